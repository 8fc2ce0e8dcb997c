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

/** INV-2026-000123: series, year, and a number that is gapless per tenant, series and year. */
export function documentNumber(series: 'INV' | 'CN', year: number, sequence: number): string {
  return `${series}-${year}-${String(sequence).padStart(6, '0')}`;
}

/** A payment already recorded in the database (Stripe webhook or finance); the flow only counts it. */
export interface PaymentReceived {
  paymentId: string;
  amount: number;
  source: 'stripe' | 'bank_transfer';
  occurredAt: string;
}

export const paymentReceived = defineSignal<[PaymentReceived]>('paymentReceived');

/** Stripe closed a Checkout Session unpaid (they last 24 hours); the flow opens a new one for the balance. */
export const checkoutExpired = defineSignal<[{ sessionId: string }]>('checkoutExpired');

export interface PaidInvoice {
  invoiceId: string;
  number: string;
  total: number;
  paid: number;
  overpaid: number;
}
