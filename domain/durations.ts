import { type Duration, msToNumber } from '@temporalio/common';
import { z } from 'zod';

const parse = (value: string): number | undefined => {
  try {
    const ms = msToNumber(value as Duration);
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
  } catch {
    return undefined;
  }
};

/**
 * A business duration as people write it ("14 days", "3 hours", "500ms"), never a literal in workflow code,
 * within the bounds its field allows: a reminder every millisecond would write to a customer in a loop, and
 * a hundred million years is no date at all. The bounds of each field are in the README ("Limits").
 */
export function boundedDuration(min: string, max: string) {
  const [floor, ceiling] = [parse(min) ?? 1, parse(max) ?? Number.MAX_SAFE_INTEGER];
  return z
    .string()
    .superRefine((value, ctx) => {
      const ms = parse(value);
      const message =
        ms === undefined
          ? 'must be a duration such as "3 days", "12 hours" or "30 seconds"'
          : ms < floor
            ? `must be at least ${min}`
            : ms > ceiling
              ? `must be at most ${max}`
              : undefined;
      if (message) ctx.addIssue({ code: 'custom', message });
    })
    .transform((value) => value as Duration);
}

/** Any duration up to ten years; the fields that need more specific bounds say so. */
export const DurationText = boundedDuration('1 millisecond', '3650 days');

/** How a step's activity is retried before the flow asks an operator. */
export const RetrySettings = z.object({
  maximumAttempts: z.number().int().min(1).max(100).default(5),
  initialInterval: boundedDuration('100 milliseconds', '1 day').prefault('1 second'),
  maximumInterval: boundedDuration('100 milliseconds', '7 days').prefault('1 minute'),
  /** How long one attempt may run; a worker that died mid-attempt is noticed after this. */
  attemptTimeout: boundedDuration('1 second', '1 day').prefault('1 minute'),
});
export type RetrySettings = z.infer<typeof RetrySettings>;
