import { defineSignal } from '@temporalio/workflow';
import type { EmailRetryInput } from './flow.schema.js';
import { defineFlow } from './flowDefinition.js';

/** Invoice payment as the workflow and its callers know it: steps, id, signals. Schemas: `invoice.schema.ts`. */
export type { InvoicePaymentInput, PaymentSettings } from './invoice.schema.js';

export const invoicePaymentFlow = defineFlow<{ retry: EmailRetryInput }>()({
  type: 'invoicePayment',
  idPrefix: 'invoice',
  steps: ['issueInvoice', 'createCheckoutSession', 'sendInvoice', 'awaitPayment', 'sendReceipt'],
});

export const invoiceFlowId = invoicePaymentFlow.flowId;

/** INV-2026-000123 (ORD- for orders): series, year, and a number gapless per tenant, series and year. */
export function documentNumber(series: 'INV' | 'CN' | 'ORD', year: number, sequence: number): string {
  return `${series}-${year}-${String(sequence).padStart(6, '0')}`;
}

/**
 * News that an invoice's money changed (a payment recorded, refunded or disputed, a Checkout Session expired):
 * ids only. The flow reads the invoice's money from the records before acting on it, so a signal sent by hand
 * cannot pay an invoice. Builds before flowdesk-3 counted `amount` as it came; it is still sent for their flows
 * until they drain.
 */
export interface PaymentReceived {
  paymentId: string;
  amount?: number;
  source?: 'stripe' | 'bank_transfer';
  occurredAt?: string;
}

export const paymentReceived = defineSignal<[PaymentReceived]>('paymentReceived');

/** Stripe closed a Checkout Session unpaid (they last 24 hours): the flow reads its sessions again. */
export const checkoutExpired = defineSignal<[{ sessionId: string }]>('checkoutExpired');

export interface PaidInvoice {
  invoiceId: string;
  number: string;
  total: number;
  paid: number;
  overpaid: number;
}
