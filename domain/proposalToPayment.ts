import type { SignedContract } from './contract.js';
import type { PaidInvoice } from './invoice.js';

/** Proposal to payment as the workflow and its callers know it. Schemas: `proposalToPayment.schema.ts`. */
export type { ProposalToPaymentInput } from './proposalToPayment.schema.js';

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

export interface ProposalToPaymentResult {
  proposalId: string;
  contract: SignedContract;
  invoices: PaidInvoice[];
}
