import { z } from 'zod';
import { type SignedContract, SigningSettings } from './contract.js';
import { DurationText, RetrySettings } from './durations.js';
import { type PaidInvoice, PaymentSettings } from './invoice.js';
import { Proposal } from './proposal.js';

/** The six steps the business names, shown as "step n of 6". */
export const PROPOSAL_TO_PAYMENT_STEPS = [
  'proposalAccepted',
  'contractGenerated',
  'contractSent',
  'contractSigned',
  'invoiceIssued',
  'paymentReceived',
] as const;

/** A later billing cycle of a recurring agreement: wait for the billing date, invoice, get paid. */
export const BILLING_CYCLE_STEPS = ['nextBillingDate', 'invoiceIssued', 'paymentReceived'] as const;

export function proposalFlowId(tenantSlug: string, proposalId: string): string {
  return `proposal:${tenantSlug}:${proposalId}`;
}

export const RecurringBilling = z.object({
  every: DurationText,
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

export const ProposalToPaymentInput = StartProposalToPayment.extend({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
});
export type ProposalToPaymentInput = z.infer<typeof ProposalToPaymentInput> & {
  /** Set by the flow itself when a billing cycle continues as new. */
  billing?: { cycle: number; contract: SignedContract; continues: { sequence: number; startedAt: string } };
};

export interface ProposalToPaymentResult {
  proposalId: string;
  contract: SignedContract;
  invoices: PaidInvoice[];
}
