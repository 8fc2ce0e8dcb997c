import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { DurationText, RetrySettings } from './durations.js';
import { BusinessId, Currency, Customer, ProposalLine } from './proposal.js';

export const INVOICE_PAYMENT_STEPS = [
  'issueInvoice',
  'createCheckoutSession',
  'sendInvoice',
  'awaitPayment',
  'sendReceipt',
] as const;

export function invoiceFlowId(tenantSlug: string, invoiceKey: string): string {
  return `invoice:${tenantSlug}:${invoiceKey}`;
}

/** INV-2026-000123: series, year, and a number that is gapless per tenant, series and year. */
export function documentNumber(series: 'INV' | 'CN', year: number, sequence: number): string {
  return `${series}-${year}-${String(sequence).padStart(6, '0')}`;
}

export const PaymentSettings = z.object({
  dueIn: DurationText.prefault('14 days'),
  /** Dunning reminders, counted from the due date; after the last one the flow needs attention. */
  dunning: z.array(DurationText).max(10).prefault(['3 days', '10 days', '20 days']),
});
export type PaymentSettings = z.infer<typeof PaymentSettings>;

export const InvoicePaymentInput = z.object({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  invoiceKey: BusinessId,
  title: z.string().min(1).max(200),
  customer: Customer,
  currency: Currency,
  lines: z.array(ProposalLine).min(1).max(200),
  payment: PaymentSettings.prefault({}),
  retry: RetrySettings.prefault({}),
});
export type InvoicePaymentInput = z.infer<typeof InvoicePaymentInput>;

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
