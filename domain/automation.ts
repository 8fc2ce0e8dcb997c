import type { AutomationRetryInput } from './automation.schema.js';
import { defineFlow } from './flowDefinition.js';

/**
 * Automation steps as the workflow and its callers know them: one shipment item's follow-up in the legacy
 * system, one scenario, a flow of its own. Schemas: `automation.schema.ts`.
 */
export type { AutomationDevice, AutomationStepInput, ScenarioConfig } from './automation.schema.js';

/** The scenarios the business names; a tenant may configure more. */
export const NAMED_SCENARIOS = [
  'sensor_vendor_first_time',
  'sensor_partner_first_time',
  'sensor_vendor_replacement',
  'sensor_partner_replacement',
  'sensor_return',
] as const;

/** What the legacy system is asked to do, in order, for a scenario. */
export const LEGACY_OPERATIONS = [
  'registerDevice',
  'assignToAsset',
  'removeFromAsset',
  'updateMirror',
] as const;
export type LegacyOperation = (typeof LEGACY_OPERATIONS)[number];

/**
 * One step, `runScenario`, whose attempts are the scenario's (`maxAttempts`, `retryDelaySeconds` doubling,
 * `timeoutSeconds`); after the last, ops retry it (with corrected input) or fall back to doing it by hand.
 */
export const automationStepFlow = defineFlow<{ retry: AutomationRetryInput }>()({
  type: 'automationStep',
  idPrefix: 'automation',
  steps: ['runScenario'],
});

/** `automation:{tenant}:{shipmentItemId}:{scenario}`: one step per item and scenario. */
export const automationBusinessKey = (shipmentItemId: string, scenario: string) =>
  `${shipmentItemId}:${scenario}`;

/** What the legacy system did for a step, or that a person did it by hand. */
export interface AutomationOutcome {
  state: 'completed' | 'fallback_triggered';
  deviceId?: string;
  notes?: string;
}

/** An attempt that found the legacy system resting (circuit open): wait, it is no failure. */
export type AttemptResult = { done: true; deviceId?: string } | { done: false; circuitOpenForMs: number };
