import { z } from 'zod';
import type { SignedContract } from './contract.js';
import { SigningSettings } from './contract.schema.js';
import { boundedDuration, RetrySettings } from './durations.js';
import { type DecisionSchemas, NoInput } from './flow.schema.js';
import { PaymentSettings } from './invoice.schema.js';
import { Proposal } from './proposal.js';

export const RecurringBilling = z.object({
  every: boundedDuration('1 second', '3650 days'),
  /** How many invoices in all, the first included. */
  cycles: z.number().int().min(2).max(120),
});

/** What staff send to start a proposal-to-payment flow. */
export const StartProposalToPayment = z.object({
  proposal: Proposal,
  signing: SigningSettings.prefault({}),
  payment: PaymentSettings.prefault({}),
  retry: RetrySettings.prefault({}),
  recurring: RecurringBilling.optional(),
});

/** Its own step takes no corrected input; decisions about contract and invoice go to those flows. */
export const proposalToPaymentDecisions = { retry: NoInput } satisfies DecisionSchemas;

export const ProposalToPaymentInput = StartProposalToPayment.extend({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
});
export type ProposalToPaymentInput = z.infer<typeof ProposalToPaymentInput> & {
  /** Set by the flow itself when a billing cycle continues as new. */
  billing?: { cycle: number; contract: SignedContract; continues: { sequence: number; startedAt: string } };
};
