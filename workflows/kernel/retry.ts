import type { RetryPolicy } from '@temporalio/common';
import type { RetrySettings } from '../../domain/durations.js';

/** A step's activity retry policy from the flow's settings; exhausted retries make the flow need attention. */
export function retryPolicy(settings: RetrySettings): RetryPolicy {
  return {
    maximumAttempts: settings.maximumAttempts,
    initialInterval: settings.initialInterval,
    maximumInterval: settings.maximumInterval,
    backoffCoefficient: 2,
    nonRetryableErrorTypes: ['ConfigurationError', 'InvalidInput'],
  };
}
