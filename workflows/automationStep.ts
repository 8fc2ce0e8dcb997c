import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { AutomationActivities } from '../activities/automation.js';
import {
  type AutomationOutcome,
  type AutomationStepInput,
  automationBusinessKey,
  automationStepFlow,
  type LegacyOperation,
} from '../domain/automation.js';
import { SYSTEM } from '../domain/flow.js';
import { Flow } from './kernel/index.js';
import { outsideStepActivityOptions, stepActivityOptions } from './kernel/retry.js';

/**
 * An automation step: one shipment item's follow-up in the legacy system (register the device, put it on the
 * customer's asset, sync the company), tried as its scenario says. While the legacy system rests (its circuit is
 * open) the step waits without spending attempts. When the attempts run out, ops are told what to do by hand; they
 * retry the step (with corrected device data if need be) or fall back: they did it by hand, with notes.
 */
export async function automationStep(input: AutomationStepInput): Promise<AutomationOutcome> {
  const { config, tenantId, stepId, scenario } = input;
  const retry = {
    maximumAttempts: config.maxAttempts,
    initialInterval: `${config.retryDelaySeconds} seconds`,
    maximumInterval: `${config.retryDelaySeconds * 32} seconds`,
    attemptTimeout: `${config.timeoutSeconds} seconds`,
  };
  const flow = new Flow(automationStepFlow, {
    businessKey: automationBusinessKey(input.shipmentItemId, scenario),
    tenantId,
    retry,
  });
  // No quick retry of its own: a failure must reach the scenario's count, and a second try inside the activity
  // would find the circuit open and turn the failure into a wait.
  const once = stepActivityOptions(retry);
  const legacy = proxyActivities<AutomationActivities>({
    ...once,
    retry: { ...once.retry, maximumAttempts: 1 },
  });
  const records = proxyActivities<AutomationActivities>(outsideStepActivityOptions(retry));
  const ref = { tenantId, flowId: workflowInfo().workflowId, stepId, scenario };
  let device = input.device;
  let rounds = 0;

  return flow.run(async () => {
    const outcome = await flow.step<AutomationOutcome>(
      'runScenario',
      async (decided) => {
        if (decided?.input.device) device = { ...device, ...decided.input.device };
        const attempt = flow.stepNamed('runScenario').attempts;
        await records.recordAttempt({ ...ref, attempts: attempt });
        for (let rest = 0; ; rest++) {
          const result = await legacy.attemptScenario({
            ...ref,
            operations: config.operations as LegacyOperation[],
            device,
            attempt: `a${attempt}.${rest}`,
          });
          if (result.done) return { state: 'completed', deviceId: result.deviceId };
          await sleep(result.circuitOpenForMs + 100);
        }
      },
      {
        manual: (decision): AutomationOutcome => ({ state: 'fallback_triggered', notes: decision.note }),
        whenExhausted: async (error) => {
          rounds++;
          await records.stepFailed({
            ...ref,
            error,
            attempts: flow.stepNamed('runScenario').attempts,
            round: rounds,
            fallbackDescription: config.fallbackDescription,
          });
        },
      },
    );
    const resolved = flow.stepNamed('runScenario').resolvedBy;
    await records.stepDone({
      ...ref,
      ...outcome,
      actor: outcome.state === 'fallback_triggered' && resolved ? resolved.actor : SYSTEM,
    });
    return outcome;
  });
}
