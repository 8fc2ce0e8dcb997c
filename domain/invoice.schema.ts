import { z } from 'zod';
import { boundedDuration, RetrySettings } from './durations.js';
import { type DecisionSchemas, EmailRetryInput } from './flow.schema.js';
import { BusinessId, Currency, Customer, ProposalLines } from './proposal.js';

export const PaymentSettings = z.object({
  dueIn: boundedDuration('1 second', '3650 days').prefault('14 days'),
  /** Dunning reminders, counted from the due date; after the last one the flow needs attention. */
  dunning: z
    .array(boundedDuration('1 second', '3650 days'))
    .max(10)
    .prefault(['3 days', '10 days', '20 days']),
});
export type PaymentSettings = z.infer<typeof PaymentSettings>;

export const InvoicePaymentInput = z.object({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  invoiceKey: BusinessId,
  title: z.string().min(1).max(200),
  customer: Customer,
  currency: Currency,
  lines: ProposalLines,
  payment: PaymentSettings.prefault({}),
  retry: RetrySettings.prefault({}),
});
export type InvoicePaymentInput = z.infer<typeof InvoicePaymentInput>;

export const invoicePaymentDecisions = { retry: EmailRetryInput } satisfies DecisionSchemas;
