import type { ActivityOptions } from '@temporalio/workflow';
import type { RetrySettings } from '../../domain/durations.js';

/**
 * How a flow's step activities run, from the flow's settings: exhausted retries make the flow need attention,
 * and an attempt that outlives `attemptTimeout` (its worker died, say) is retried.
 */
export function stepActivityOptions(
  settings: Omit<RetrySettings, 'attemptTimeout'> & Partial<Pick<RetrySettings, 'attemptTimeout'>>,
): ActivityOptions {
  return {
    // Flows started before attempts had a configurable timeout carry none in their input.
    startToCloseTimeout: settings.attemptTimeout ?? '1 minute',
    retry: {
      maximumAttempts: settings.maximumAttempts,
      initialInterval: settings.initialInterval,
      maximumInterval: settings.maximumInterval,
      backoffCoefficient: 2,
      nonRetryableErrorTypes: ['ConfigurationError', 'InvalidInput'],
    },
  };
}
