import { type Duration, msToNumber } from '@temporalio/common';
import { z } from 'zod';

/** A business duration as people write it ("14 days", "3 hours", "500ms"), never a literal in workflow code. */
export const DurationText = z
  .string()
  .refine(
    (value) => {
      try {
        return msToNumber(value as Duration) > 0;
      } catch {
        return false;
      }
    },
    { error: 'must be a duration such as "3 days", "12 hours" or "30 seconds"' },
  )
  .transform((value) => value as Duration);

/** How a step's activity is retried before the flow asks an operator. */
export const RetrySettings = z.object({
  maximumAttempts: z.number().int().min(1).max(100).default(5),
  initialInterval: DurationText.prefault('1 second'),
  maximumInterval: DurationText.prefault('1 minute'),
  /** How long one attempt may run; a worker that died mid-attempt is noticed after this. */
  attemptTimeout: DurationText.prefault('1 minute'),
});
export type RetrySettings = z.infer<typeof RetrySettings>;
