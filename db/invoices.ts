import { type Kysely, sql } from 'kysely';
import { type Actor, SYSTEM } from '../domain/flow.js';
import { documentNumber } from '../domain/invoice.js';
import { appendEvent } from './events.js';
import type { Database } from './schema.js';

/**
 * The next number of a series. Call it inside the transaction that writes the numbered document: the counter row
 * stays locked until commit, so concurrent issuers queue, and a rolled-back document gives its number back.
 */
export async function nextDocumentNumber(
  trx: Kysely<Database>,
  tenantId: string,
  series: 'INV' | 'CN',
  year: number,
): Promise<string> {
  const { last_number } = await trx
    .insertInto('invoice_counters')
    .values({ tenant_id: tenantId, series, year, last_number: 1 })
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'series', 'year'])
        .doUpdateSet({ last_number: sql`invoice_counters.last_number + 1` }),
    )
    .returning('last_number')
    .executeTakeFirstOrThrow();
  return documentNumber(series, year, last_number);
}

export interface PaymentToRecord {
  tenantId: string;
  invoiceId: string;
  source: 'stripe' | 'bank_transfer';
  /** Stripe's payment id or the bank transfer reference: a payment is recorded once per source and id. */
  externalId: string;
  amount: number;
  currency: string;
  receivedAt: Date;
  actor: Actor;
}

export type RecordedPayment =
  | { recorded: true; paymentId: string; flowId: string; paid: number; total: number }
  | { recorded: false; reason: 'duplicate'; paymentId: string; flowId: string }
  | { recorded: false; reason: 'unknown_invoice' | 'currency_mismatch' | 'invoice_cancelled' };

/**
 * Records a payment against an invoice and moves the invoice's paid amount and state, with the audit events.
 * Pass a transaction: the caller's own record of the delivery (a webhook receipt) commits with it. A repeated
 * delivery of the same payment changes nothing and says so.
 */
export async function recordPayment(
  trx: Kysely<Database>,
  payment: PaymentToRecord,
): Promise<RecordedPayment> {
  const invoice = await trx
    .selectFrom('invoices')
    .selectAll()
    .where('id', '=', payment.invoiceId)
    .where('tenant_id', '=', payment.tenantId)
    .forUpdate()
    .executeTakeFirst();
  if (!invoice) return { recorded: false, reason: 'unknown_invoice' };
  if (invoice.currency !== payment.currency) return { recorded: false, reason: 'currency_mismatch' };
  const existing = await trx
    .selectFrom('payments')
    .select('id')
    .where('source', '=', payment.source)
    .where('external_id', '=', payment.externalId)
    .executeTakeFirst();
  if (existing)
    return { recorded: false, reason: 'duplicate', paymentId: existing.id, flowId: invoice.flow_id };
  if (invoice.state === 'CANCELLED') return { recorded: false, reason: 'invoice_cancelled' };

  const inserted = await trx
    .insertInto('payments')
    .values({
      tenant_id: payment.tenantId,
      invoice_id: payment.invoiceId,
      source: payment.source,
      external_id: payment.externalId,
      amount: payment.amount,
      currency: payment.currency,
      received_at: payment.receivedAt,
      recorded_by: JSON.stringify(payment.actor),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const total = Number(invoice.total);
  const paid = Number(invoice.paid) + payment.amount;
  await trx
    .updateTable('invoices')
    .set({
      paid,
      state: paid >= total ? 'PAID' : 'PAID_PARTIAL',
      paid_at: paid >= total ? payment.receivedAt : null,
      updated_at: new Date(),
    })
    .where('id', '=', invoice.id)
    .execute();
  const entity = { type: 'invoice', id: invoice.number ?? invoice.invoice_key };
  await appendEvent(trx, {
    tenantId: payment.tenantId,
    type: 'payment.received',
    actor: payment.actor,
    entity,
    flowId: invoice.flow_id,
    payload: {
      paymentId: inserted.id,
      source: payment.source,
      externalId: payment.externalId,
      amount: payment.amount,
      currency: payment.currency,
      paid,
      total,
    },
    occurredAt: payment.receivedAt,
    idempotencyKey: `payment.received/${payment.source}/${payment.externalId}`,
  });
  if (paid > total) {
    await appendEvent(trx, {
      tenantId: payment.tenantId,
      type: 'invoice.overpaid',
      actor: SYSTEM,
      entity,
      flowId: invoice.flow_id,
      payload: { overpaid: paid - total, paid, total, currency: invoice.currency },
      idempotencyKey: `invoice.overpaid/${payment.source}/${payment.externalId}`,
    });
  }
  return { recorded: true, paymentId: inserted.id, flowId: invoice.flow_id, paid, total };
}
