import { z } from 'zod';
import { type DecisionSchemas, NoInput } from './flow.schema.js';
import { BusinessId } from './proposal.js';

/** The schemas of automation steps, for the API and activities; workflows use `automation.ts`. */

export const ScenarioName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{2,63}$/, { error: 'must be snake_case, 3-64 characters' });

const Operation = z.enum(['registerDevice', 'assignToAsset', 'removeFromAsset', 'updateMirror']);

/** A scenario's configuration: how hard to try, and what ops do by hand when trying is over. */
export const ScenarioConfig = z.object({
  operations: z.array(Operation).min(1).max(10),
  maxAttempts: z.number().int().min(1).max(50),
  /** The first retry's delay; each next one doubles, up to 32 times it. */
  retryDelaySeconds: z.number().int().min(1).max(86_400),
  timeoutSeconds: z.number().int().min(1).max(3_600),
  fallbackDescription: z.string().trim().min(1).max(2_000),
});
export type ScenarioConfig = z.infer<typeof ScenarioConfig>;

/** The device and where it goes; ops may correct any of it when they retry. */
export const AutomationDevice = z.object({
  serial: z.string().trim().min(1).max(100),
  model: z.string().trim().min(1).max(100),
  companyId: z.string().trim().min(1).max(100),
  assetId: z.string().trim().min(1).max(100),
  /** For a replacement or a return: the device already at the asset. */
  previousDeviceId: z.string().trim().min(1).max(100).optional(),
});
export type AutomationDevice = z.infer<typeof AutomationDevice>;

export const StartAutomationStep = z.object({
  shipmentItemId: BusinessId,
  scenario: ScenarioName,
  device: AutomationDevice,
});
export type StartAutomationStep = z.infer<typeof StartAutomationStep>;

export const AutomationRetryInput = z.strictObject({
  device: AutomationDevice.partial()
    .optional()
    .describe('Corrections to the device data for this and later attempts'),
});
export type AutomationRetryInput = z.infer<typeof AutomationRetryInput>;

export const automationStepDecisions = {
  retry: AutomationRetryInput,
  fallback: NoInput,
} satisfies DecisionSchemas;

export const AutomationStepInput = StartAutomationStep.extend({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  stepId: z.uuid(),
  config: ScenarioConfig,
});
export type AutomationStepInput = z.infer<typeof AutomationStepInput>;
