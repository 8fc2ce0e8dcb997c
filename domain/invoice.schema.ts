import { z } from 'zod';
import { DurationText, RetrySettings } from './durations.js';
import { type DecisionSchemas, EmailRetryInput } from './flow.schema.js';
import { BusinessId, Currency, Customer, ProposalLine } from './proposal.js';

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

export const invoicePaymentDecisions = { retry: EmailRetryInput } satisfies DecisionSchemas;
