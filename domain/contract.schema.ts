import { z } from 'zod';
import { boundedDuration, RetrySettings } from './durations.js';
import { type DecisionSchemas, EmailRetryInput, NoInput } from './flow.schema.js';
import { BusinessId, Proposal } from './proposal.js';

export const SigningSettings = z.object({
  /** After this, the flow needs attention: an operator extends, resends or cancels. */
  deadline: boundedDuration('1 second', '3650 days').prefault('14 days'),
  /** A reminder to the customer: never more often than hourly, and at most MAX_REMINDERS_PER_WAIT per wait. */
  remindEvery: boundedDuration('1 hour', '365 days').prefault('3 days'),
});
export type SigningSettings = z.infer<typeof SigningSettings>;

export const ContractSigningInput = z.object({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  contractId: BusinessId,
  proposal: Proposal,
  signing: SigningSettings.prefault({}),
  retry: RetrySettings.prefault({}),
});
export type ContractSigningInput = z.infer<typeof ContractSigningInput>;

export const contractSigningDecisions = { retry: EmailRetryInput, resend: NoInput } satisfies DecisionSchemas;
