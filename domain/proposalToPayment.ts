import type { SignedContract } from './contract.js';
import { defineFlow } from './flowDefinition.js';
import type { PaidInvoice } from './invoice.js';

/** Proposal to payment as the workflow and its callers know it. Schemas: `proposalToPayment.schema.ts`. */
export type { ProposalToPaymentInput } from './proposalToPayment.schema.js';

/**
 * The six steps the business names, shown as "step n of 6"; a later billing cycle of a recurring agreement shows
 * its own three: wait for the billing date, invoice, get paid.
 */
export const proposalToPaymentFlow = defineFlow()({
  type: 'proposalToPayment',
  idPrefix: 'proposal',
  steps: [
    'proposalAccepted',
    'contractGenerated',
    'contractSent',
    'contractSigned',
    'invoiceIssued',
    'paymentReceived',
  ],
  variants: { billingCycle: ['nextBillingDate', 'invoiceIssued', 'paymentReceived'] },
});

export const proposalFlowId = proposalToPaymentFlow.flowId;

/**
 * The invoice key of a recurring agreement's billing cycle. `~` is never part of a business id, so a cycle's key
 * cannot be another proposal's id (`Q-2` is a valid proposal id; `Q~2` is not).
 */
export function cycleInvoiceKey(proposalId: string, cycle: number): string {
  return `${proposalId}~${cycle}`;
}

export interface ProposalToPaymentResult {
  proposalId: string;
  contract: SignedContract;
  invoices: PaidInvoice[];
}
