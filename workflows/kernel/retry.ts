import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';
import type { RetrySettings } from '../../domain/durations.js';

type Settings = Omit<RetrySettings, 'attemptTimeout'> & Partial<Pick<RetrySettings, 'attemptTimeout'>>;

/** Failures no retry can mend: a person must act. */
export const NON_RETRYABLE_ERROR_TYPES = ['ConfigurationError', 'InvalidInput', 'InvoiceKeyTaken'];

/**
 * How a step's activity runs: one quick retry for a blip, then the failure is the kernel's, which retries on the
 * flow's schedule where people can see it (`retrying`) and act on it. An attempt that outlives `attemptTimeout`
 * (its worker died, say) counts as failed.
 */
export function stepActivityOptions(settings: Settings): ActivityOptions {
  return {
    startToCloseTimeout: settings.attemptTimeout ?? '1 minute',
    retry: {
      maximumAttempts: 2,
      initialInterval: settings.initialInterval,
      maximumInterval: settings.initialInterval,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  };
}

/**
 * How work outside any step runs (undoing what a cancelled flow did, replacing a contract version): Temporal
 * retries it on the flow's schedule, since there is no step to show it on.
 */
export function outsideStepActivityOptions(settings: Settings): ActivityOptions {
  return {
    startToCloseTimeout: settings.attemptTimeout ?? '1 minute',
    retry: {
      maximumAttempts: settings.maximumAttempts,
      initialInterval: settings.initialInterval,
      maximumInterval: settings.maximumInterval,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  };
}

/**
 * How a flow reads its facts from the records (what was paid, what was signed): a local activity, so a read
 * costs no workflow task of its own, with one quick retry; after that the kernel's schedule, as for a step.
 */
export function readActivityOptions(settings: Settings): LocalActivityOptions {
  return {
    startToCloseTimeout: '10 seconds',
    retry: {
      maximumAttempts: 2,
      initialInterval: settings.initialInterval,
      maximumInterval: settings.initialInterval,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  };
}
