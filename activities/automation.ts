import { ApplicationFailure, metricMeter } from '@temporalio/activity';
import { recordAutomationState } from '../db/automation.js';
import { appendEvent } from '../db/events.js';
import type { AttemptResult, LegacyOperation } from '../domain/automation.js';
import type { AutomationDevice } from '../domain/automation.schema.js';
import { type Actor, SYSTEM } from '../domain/flow.js';
import { type LegacyBridge, LegacyCircuitOpen, LegacyError } from '../integrations/legacy/bridge.js';
import { type EmailDeps, sendEmail } from './email.js';

export interface AutomationDeps extends EmailDeps {
  /** The legacy system; without LEGACY_URL automation steps cannot run (and say so). */
  bridge?: LegacyBridge;
  opsEmail: string;
  companyName: string;
}

type ScenarioAttempt = StepRef & { operations: LegacyOperation[]; device: AutomationDevice; attempt: string };

export interface StepRef {
  tenantId: string;
  flowId: string;
  stepId: string;
  scenario: string;
}

/** The side effects of an automation step: the legacy system's operations, the step's record, ops' notice. */
export function automationActivities(deps: AutomationDeps) {
  const { db } = deps;

  /** One call, on the step's timeline with its correlation id, whatever it came to. */
  async function onTimeline(
    ref: StepRef,
    call: {
      operation: LegacyOperation;
      correlationId: string;
      outcome: 'ok' | 'failed' | 'circuit_open';
      error?: string;
    },
  ) {
    await appendEvent(db, {
      tenantId: ref.tenantId,
      type: 'automation.call',
      actor: SYSTEM,
      entity: { type: 'automation_step', id: ref.stepId },
      flowId: ref.flowId,
      payload: { ...call },
      idempotencyKey: `${call.correlationId}/${call.outcome}`,
    });
  }

  /** The scenario's operations in order, each on the step's trail with its correlation id. */
  async function runScenario(bridge: LegacyBridge, input: ScenarioAttempt): Promise<AttemptResult> {
    const { device } = input;
    const channel = input.scenario.includes('partner') ? 'partner' : 'vendor';
    let deviceId: string | undefined;
    for (const operation of input.operations) {
      const correlationId = `${input.flowId}/${input.attempt}/${operation}`;
      try {
        if (operation === 'registerDevice') {
          const registered = await bridge.registerDevice(
            {
              serial: device.serial,
              model: device.model,
              companyId: device.companyId,
              channel,
              replaces: device.previousDeviceId,
            },
            { correlationId, idempotencyKey: `${input.flowId}/register/${device.serial}` },
          );
          deviceId = registered.deviceId;
        }
        if (operation === 'removeFromAsset') {
          const previous = device.previousDeviceId;
          if (!previous)
            throw ApplicationFailure.nonRetryable(
              'the scenario takes a device off the asset, but the step names no previous device',
              'InvalidInput',
            );
          await bridge.removeFromAsset(device.assetId, previous, { correlationId });
        }
        if (operation === 'assignToAsset') {
          if (!deviceId)
            throw ApplicationFailure.nonRetryable('the scenario assigns before it registers', 'InvalidInput');
          await bridge.assignToAsset(device.assetId, deviceId, { correlationId });
        }
        if (operation === 'updateMirror') await bridge.updateMirror(device.companyId, { correlationId });
        await onTimeline(input, { operation, correlationId, outcome: 'ok' });
      } catch (error) {
        if (error instanceof LegacyCircuitOpen) {
          await onTimeline(input, { operation, correlationId, outcome: 'circuit_open' });
          return { done: false, circuitOpenForMs: error.retryInMs };
        }
        const message = error instanceof Error ? error.message : String(error);
        await onTimeline(input, { operation, correlationId, outcome: 'failed', error: message });
        if (error instanceof LegacyError)
          throw ApplicationFailure.create({
            type: error.retryable ? 'LegacyUnavailable' : 'LegacyRefused',
            nonRetryable: !error.retryable,
            message,
          });
        throw error;
      }
    }
    return { done: true, deviceId };
  }

  return {
    /**
     * Runs the scenario's operations in order. Registering carries an idempotency key of the step and the serial,
     * so a retry (after a crash, or any later attempt) finds the device registered before. A legacy system that is
     * resting (circuit open) is no failure: the attempt says how long to wait.
     */
    async attemptScenario(input: ScenarioAttempt): Promise<AttemptResult> {
      const { bridge } = deps;
      if (!bridge)
        throw ApplicationFailure.nonRetryable(
          'LEGACY_URL is not configured on the worker',
          'ConfigurationError',
        );
      try {
        return await runScenario(bridge, input);
      } finally {
        // On the worker's /metrics, beside Temporal's own: whether the legacy system is resting.
        metricMeter
          .createGauge(
            'flowdesk_legacy_circuit_open',
            'int',
            '',
            'The legacy circuit is open (1), or not (0)',
          )
          .set(bridge.circuit() === 'open' ? 1 : 0);
      }
    },

    async recordAttempt(input: StepRef & { attempts: number; error?: string }) {
      await recordAutomationState(db, {
        tenantId: input.tenantId,
        stepId: input.stepId,
        state: input.error ? 'retrying' : 'running',
        attempts: input.attempts,
        error: input.error,
        actor: SYSTEM,
        occurrence: String(input.attempts),
      });
    },

    /** The scenario's attempts ran out: `automation.step_failed`, and ops are emailed what to do, once each time. */
    async stepFailed(
      input: StepRef & { error: string; attempts: number; round: number; fallbackDescription: string },
    ): Promise<void> {
      await recordAutomationState(db, {
        tenantId: input.tenantId,
        stepId: input.stepId,
        state: 'failed',
        attempts: input.attempts,
        error: input.error,
        actor: SYSTEM,
        occurrence: String(input.round),
      });
      await sendEmail(deps, {
        tenantId: input.tenantId,
        flowId: input.flowId,
        idempotencyKey: `${input.flowId}/failed/${input.round}`,
        template: 'automation.step-failed',
        to: deps.opsEmail,
        subject: `Automation failed: ${input.scenario} for ${input.flowId}`,
        text: [
          `The automation step ${input.flowId} (${input.scenario}) failed after ${input.attempts} attempts:`,
          input.error,
          '',
          'To do it by hand:',
          input.fallbackDescription,
          '',
          `Then: POST /v1/automation-steps/${input.stepId}/fallback with your notes, or /retry (with corrected input).`,
          '',
          deps.companyName,
        ].join('\n'),
      });
    },

    async stepDone(
      input: StepRef & {
        state: 'completed' | 'fallback_triggered';
        deviceId?: string;
        notes?: string;
        actor: Actor;
      },
    ): Promise<void> {
      await recordAutomationState(db, {
        tenantId: input.tenantId,
        stepId: input.stepId,
        state: input.state,
        deviceId: input.deviceId,
        notes: input.notes,
        actor: input.actor,
        occurrence: 'done',
      });
    },
  };
}

export type AutomationActivities = ReturnType<typeof automationActivities>;
