import { type Kysely, type Selectable, sql } from 'kysely';
import { type Actor, SYSTEM } from '../domain/flow.js';
import type { UnappliedReason } from '../domain/payment.js';
import { appendEvent } from './events.js';
import type { Database, InvoicesTable, PaymentsTable } from './schema.js';

/**
 * Money as it reaches Flowdesk: payments (Stripe, bank transfers), and the refunds and disputes Stripe reports
 * against them. Every write of a payment's or an invoice's money goes through here, with its audit event.
 */

export interface PaymentToRecord {
  tenantId: string;
  /** The invoice the payment says it is for; absent or unknown, the payment is recorded unapplied. */
  invoiceId?: string;
  source: 'stripe' | 'bank_transfer';
  /** Stripe's payment intent (or session) id, or the bank transfer reference: recorded once per source and id. */
  externalId: string;
  amount: number;
  currency: string;
  receivedAt: Date;
  actor: Actor;
  paymentIntent?: string;
  checkoutSessionId?: string;
}

export type RecordedPayment =
  | { outcome: 'applied'; paymentId: string; flowId: string; paid: number; total: number }
  | { outcome: 'unapplied'; paymentId: string; reason: UnappliedReason; flowId: string | null }
  | { outcome: 'duplicate'; paymentId: string; flowId: string | null; applied: boolean }
  /** Only when asked to refuse rather than hold (a payment typed in by finance): nothing is written. */
  | { outcome: 'refused'; reason: UnappliedReason }
  /** The tenant it names does not exist: it is not Flowdesk's to hold. */
  | { outcome: 'unattributed' };

type Invoice = Selectable<InvoicesTable>;

const lockInvoice = (trx: Kysely<Database>, tenantId: string, invoiceId: string) =>
  trx
    .selectFrom('invoices')
    .selectAll()
    .where('id', '=', invoiceId)
    .where('tenant_id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();

/** Why a payment cannot be applied to this invoice, if it cannot. */
function refusalOf(invoice: Invoice | undefined, currency: string): UnappliedReason | undefined {
  if (!invoice) return 'unknown_invoice';
  if (invoice.currency !== currency) return 'currency_mismatch';
  if (invoice.state === 'CANCELLED') return 'invoice_cancelled';
  return undefined;
}

/** An invoice's state from its money: what was paid, less what was refunded, against its total. */
function invoiceState(invoice: Invoice, paid: number, refunded: number): string {
  if (invoice.state === 'CANCELLED') return 'CANCELLED';
  const net = paid - refunded;
  if (refunded > 0) return net <= 0 ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
  if (net >= Number(invoice.total)) return 'PAID';
  return net > 0 ? 'PAID_PARTIAL' : invoice.state;
}

/**
 * Records a payment once. One that fits its invoice is applied (the invoice's paid amount and state move);
 * one that does not (unknown or cancelled invoice, another currency) is held as `unapplied` with its reason,
 * for finance, unless `refuse` is set. Pass a transaction: the caller's record of the delivery commits with it.
 */
export async function recordPayment(
  trx: Kysely<Database>,
  payment: PaymentToRecord,
  options: { refuse?: boolean } = {},
): Promise<RecordedPayment> {
  const invoice = payment.invoiceId ? await lockInvoice(trx, payment.tenantId, payment.invoiceId) : undefined;
  const existing = await trx
    .selectFrom('payments')
    .select(['id', 'state', 'invoice_id'])
    .where('source', '=', payment.source)
    .where('external_id', '=', payment.externalId)
    .executeTakeFirst();
  if (existing)
    return {
      outcome: 'duplicate',
      paymentId: existing.id,
      flowId: invoice?.id === existing.invoice_id ? (invoice?.flow_id ?? null) : null,
      applied: existing.state === 'applied',
    };
  const reason = refusalOf(invoice, payment.currency);
  if (reason && options.refuse) return { outcome: 'refused', reason };
  if (!invoice) {
    const tenant = await trx
      .selectFrom('tenants')
      .select('id')
      .where('id', '=', payment.tenantId)
      .executeTakeFirst();
    if (!tenant) return { outcome: 'unattributed' };
  }
  const { id: paymentId } = await trx
    .insertInto('payments')
    .values({
      tenant_id: payment.tenantId,
      invoice_id: invoice?.id ?? null,
      source: payment.source,
      external_id: payment.externalId,
      amount: payment.amount,
      currency: payment.currency,
      received_at: payment.receivedAt,
      recorded_by: JSON.stringify(payment.actor),
      state: reason ? 'unapplied' : 'applied',
      unapplied_reason: reason ?? null,
      payment_intent: payment.paymentIntent ?? null,
      checkout_session_id: payment.checkoutSessionId ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (reason || !invoice) {
    await appendEvent(trx, {
      tenantId: payment.tenantId,
      type: 'payment.unapplied',
      actor: payment.actor,
      entity: { type: 'payment', id: paymentId },
      flowId: invoice?.flow_id ?? null,
      payload: {
        paymentId,
        reason,
        invoiceId: payment.invoiceId,
        invoiceNumber: invoice?.number,
        source: payment.source,
        externalId: payment.externalId,
        amount: payment.amount,
        currency: payment.currency,
      },
      occurredAt: payment.receivedAt,
      idempotencyKey: `payment.unapplied/${payment.source}/${payment.externalId}`,
    });
    return {
      outcome: 'unapplied',
      paymentId,
      reason: reason ?? 'unknown_invoice',
      flowId: invoice?.flow_id ?? null,
    };
  }
  return applyToInvoice(trx, invoice, { ...payment, paymentId });
}

/** Adds a recorded payment to its invoice's paid amount, with the events finance reads. */
async function applyToInvoice(
  trx: Kysely<Database>,
  invoice: Invoice,
  payment: Pick<PaymentToRecord, 'source' | 'externalId' | 'amount' | 'currency' | 'receivedAt' | 'actor'> & {
    paymentId: string;
  },
): Promise<Extract<RecordedPayment, { outcome: 'applied' }>> {
  const total = Number(invoice.total);
  const paid = Number(invoice.paid) + payment.amount;
  const refunded = Number(invoice.refunded);
  await trx
    .updateTable('invoices')
    .set({
      paid,
      state: invoiceState(invoice, paid, refunded),
      paid_at: paid - refunded >= total ? payment.receivedAt : null,
      updated_at: new Date(),
    })
    .where('id', '=', invoice.id)
    .execute();
  const entity = { type: 'invoice', id: invoice.number ?? invoice.invoice_key };
  await appendEvent(trx, {
    tenantId: invoice.tenant_id,
    type: 'payment.received',
    actor: payment.actor,
    entity,
    flowId: invoice.flow_id,
    payload: {
      paymentId: payment.paymentId,
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
  if (paid - refunded > total) {
    await appendEvent(trx, {
      tenantId: invoice.tenant_id,
      type: 'invoice.overpaid',
      actor: SYSTEM,
      entity,
      flowId: invoice.flow_id,
      payload: { overpaid: paid - refunded - total, paid, total, currency: invoice.currency },
      idempotencyKey: `invoice.overpaid/${payment.source}/${payment.externalId}`,
    });
  }
  return { outcome: 'applied', paymentId: payment.paymentId, flowId: invoice.flow_id, paid, total };
}

/** A payment of the tenant that waits for finance, locked; or why it is not one. */
async function lockUnapplied(
  trx: Kysely<Database>,
  tenantId: string,
  paymentId: string,
): Promise<Selectable<PaymentsTable> | 'not_found' | 'not_unapplied'> {
  const payment = await trx
    .selectFrom('payments')
    .selectAll()
    .where('id', '=', paymentId)
    .where('tenant_id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();
  if (!payment) return 'not_found';
  return payment.state === 'unapplied' ? payment : 'not_unapplied';
}

export type ResolvedPayment =
  | Extract<RecordedPayment, { outcome: 'applied' }>
  | { outcome: 'not_found' | 'not_unapplied' }
  | { outcome: 'refused'; reason: UnappliedReason };

/** Finance applies an unapplied payment to an invoice of the same tenant and currency. */
export async function applyUnappliedPayment(
  trx: Kysely<Database>,
  request: { tenantId: string; paymentId: string; invoiceId: string; actor: Actor; note?: string },
): Promise<ResolvedPayment> {
  const invoice = await lockInvoice(trx, request.tenantId, request.invoiceId);
  const payment = await lockUnapplied(trx, request.tenantId, request.paymentId);
  if (typeof payment === 'string') return { outcome: payment };
  const reason = refusalOf(invoice, payment.currency);
  if (reason || !invoice) return { outcome: 'refused', reason: reason ?? 'unknown_invoice' };
  await trx
    .updateTable('payments')
    .set({
      state: 'applied',
      invoice_id: invoice.id,
      resolved_by: JSON.stringify({ ...request.actor, action: 'apply', note: request.note }),
    })
    .where('id', '=', payment.id)
    .execute();
  return applyToInvoice(trx, invoice, {
    paymentId: payment.id,
    source: payment.source as PaymentToRecord['source'],
    externalId: payment.external_id,
    amount: Number(payment.amount),
    currency: payment.currency,
    receivedAt: payment.received_at,
    actor: request.actor,
  });
}

export interface MoneyEventToRecord {
  kind: 'refund' | 'dispute';
  /** Matches the payment. */
  paymentIntent: string;
  /** Stripe's id of this refund step or dispute. */
  externalId: string;
  /** For a refund: the charge's refunded amount so far (Stripe reports it cumulatively); for a dispute, its own. */
  amount: number;
  currency: string;
  status?: string;
  reason?: string;
  occurredAt: Date;
  actor: Actor;
}

export type RecordedMoneyEvent =
  | { outcome: 'recorded'; paymentId: string; flowId: string | null }
  | { outcome: 'duplicate' | 'unmatched' };

/**
 * Records a refund or a dispute against the payment of its payment intent, once, and shows it on the payment
 * and its invoice (a refund lowers what is paid; a dispute is flagged). Out of order deliveries are safe: the
 * refunded amount only grows.
 */
export async function recordMoneyEvent(
  trx: Kysely<Database>,
  event: MoneyEventToRecord,
): Promise<RecordedMoneyEvent> {
  const payment = await trx
    .selectFrom('payments')
    .selectAll()
    .where('payment_intent', '=', event.paymentIntent)
    .forUpdate()
    .executeTakeFirst();
  if (!payment) return { outcome: 'unmatched' };
  const invoice = payment.invoice_id
    ? await lockInvoice(trx, payment.tenant_id, payment.invoice_id)
    : undefined;
  const inserted = await trx
    .insertInto('money_events')
    .values({
      tenant_id: payment.tenant_id,
      payment_id: payment.id,
      kind: event.kind,
      external_id: event.externalId,
      amount: event.amount,
      currency: event.currency,
      status: event.status ?? null,
      reason: event.reason ?? null,
      occurred_at: event.occurredAt,
    })
    .onConflict((oc) => oc.column('external_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) return { outcome: 'duplicate' };
  const before = Number(event.kind === 'refund' ? payment.refunded : payment.disputed);
  const after = event.kind === 'refund' ? Math.max(before, event.amount) : before + event.amount;
  await trx
    .updateTable('payments')
    .set(event.kind === 'refund' ? { refunded: after } : { disputed: after })
    .where('id', '=', payment.id)
    .execute();
  if (invoice && event.kind === 'refund' && payment.state === 'applied') {
    const refunded = Number(invoice.refunded) + (after - before);
    await trx
      .updateTable('invoices')
      .set({ refunded, state: invoiceState(invoice, Number(invoice.paid), refunded), updated_at: new Date() })
      .where('id', '=', invoice.id)
      .execute();
  }
  await appendEvent(trx, {
    tenantId: payment.tenant_id,
    type: event.kind === 'refund' ? 'payment.refunded' : 'payment.disputed',
    actor: event.actor,
    entity: invoice
      ? { type: 'invoice', id: invoice.number ?? invoice.invoice_key }
      : { type: 'payment', id: payment.id },
    flowId: invoice?.flow_id ?? null,
    payload: {
      paymentId: payment.id,
      externalId: event.externalId,
      amount: event.kind === 'refund' ? after - before : event.amount,
      total: after,
      currency: event.currency,
      status: event.status,
      reason: event.reason,
    },
    occurredAt: event.occurredAt,
    idempotencyKey: `money/${event.externalId}`,
  });
  return { outcome: 'recorded', paymentId: payment.id, flowId: invoice?.flow_id ?? null };
}

/** What an invoice's flow needs to know of its money, read from the records, never from a signal. */
export async function invoiceMoney(
  db: Kysely<Database>,
  tenantId: string,
  invoiceId: string,
): Promise<{ paid: number; refunded: number; state: string }> {
  const invoice = await db
    .selectFrom('invoices')
    .select(['paid', 'refunded', 'state'])
    .where('id', '=', invoiceId)
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return { paid: Number(invoice.paid), refunded: Number(invoice.refunded), state: invoice.state };
}

/** Finance refunded an unapplied payment (through Stripe, or by bank for a transfer): it is settled. */
export async function refundUnappliedPayment(
  trx: Kysely<Database>,
  request: { tenantId: string; paymentId: string; actor: Actor; note?: string; stripeRefundId?: string },
): Promise<{ outcome: 'refunded' | 'not_found' | 'not_unapplied' }> {
  const payment = await lockUnapplied(trx, request.tenantId, request.paymentId);
  if (typeof payment === 'string') return { outcome: payment };
  await trx
    .updateTable('payments')
    .set({
      state: 'refunded',
      resolved_by: JSON.stringify({ ...request.actor, action: 'refund', note: request.note }),
    })
    .where('id', '=', payment.id)
    .execute();
  await appendEvent(trx, {
    tenantId: request.tenantId,
    type: 'payment.unapplied.refunded',
    actor: request.actor,
    entity: { type: 'payment', id: payment.id },
    payload: {
      paymentId: payment.id,
      amount: Number(payment.amount),
      currency: payment.currency,
      note: request.note,
      stripeRefundId: request.stripeRefundId,
    },
    idempotencyKey: `payment.unapplied.refunded/${payment.id}`,
  });
  return { outcome: 'refunded' };
}

/** What recording a paid Checkout Session's payment did, in one statement. */
export type PaymentAtOnce =
  | { outcome: 'applied' | 'duplicate'; news?: PaymentNews }
  /** The payment does not fit its invoice, or another delivery of it is being recorded: take the full path. */
  | { outcome: 'needs_full_path' };

/** What the invoice's flow is told: ids, and the amount only for flows of builds before flowdesk-3. */
export interface PaymentNews {
  flowId: string;
  paymentId: string;
  amount: number;
  source: 'stripe' | 'bank_transfer';
  receivedAt: string;
}

/**
 * The common case of a Stripe payment in one statement, relying on unique keys rather than a row lock: the
 * payment (once per payment intent), the invoice's paid amount and state, and the audit events. A payment
 * recorded before brings news only if its flow was never told.
 */
export async function recordPaymentAtOnce(
  db: Kysely<Database>,
  payment: PaymentToRecord & { invoiceId: string },
): Promise<PaymentAtOnce> {
  const actor = JSON.stringify(payment.actor);
  const { rows } = await sql<{
    payment_id: string | null;
    flow_id: string | null;
    existing_id: string | null;
    existing_applied: boolean | null;
    existing_signalled: boolean | null;
    existing_flow_id: string | null;
    existing_amount: string | null;
  }>`
    with fits as (
      select id from invoices
      where id = ${payment.invoiceId}::uuid and tenant_id = ${payment.tenantId}::uuid
        and currency = ${payment.currency}::text and state <> 'CANCELLED'
    ),
    payment as (
      insert into payments (tenant_id, invoice_id, source, external_id, amount, currency, received_at, recorded_by,
                            payment_intent, checkout_session_id)
      select ${payment.tenantId}::uuid, fits.id, ${payment.source}::text, ${payment.externalId}::text,
             ${payment.amount}::bigint, ${payment.currency}::text, ${payment.receivedAt}::timestamptz,
             ${actor}::jsonb, ${payment.paymentIntent ?? null}::text, ${payment.checkoutSessionId ?? null}::text
      from fits
      on conflict do nothing
      returning id, amount
    ),
    paid as (
      update invoices set
        paid = invoices.paid + payment.amount,
        state = case
          when invoices.refunded > 0 and invoices.paid + payment.amount - invoices.refunded <= 0 then 'REFUNDED'
          when invoices.refunded > 0 then 'PARTIALLY_REFUNDED'
          when invoices.paid + payment.amount >= invoices.total then 'PAID'
          else 'PAID_PARTIAL' end,
        paid_at = case when invoices.paid + payment.amount - invoices.refunded >= invoices.total
                       then ${payment.receivedAt}::timestamptz end,
        updated_at = now()
      from payment
      where invoices.id = ${payment.invoiceId}::uuid
      returning invoices.flow_id, invoices.paid, invoices.total, invoices.refunded, invoices.currency,
                coalesce(invoices.number, invoices.invoice_key) as entity_id, payment.id as payment_id,
                payment.amount
    ),
    events as (
      insert into domain_events (tenant_id, type, occurred_at, actor, entity_type, entity_id, flow_id, payload,
                                 idempotency_key)
      select ${payment.tenantId}::uuid, 'payment.received', ${payment.receivedAt}::timestamptz, ${actor}::jsonb,
             'invoice',
             paid.entity_id, paid.flow_id,
             jsonb_build_object('paymentId', paid.payment_id, 'source', ${payment.source}::text,
                                'externalId', ${payment.externalId}::text, 'amount', paid.amount,
                                'currency', paid.currency, 'paid', paid.paid, 'total', paid.total),
             ${`payment.received/${payment.source}/${payment.externalId}`}::text
      from paid
      union all
      select ${payment.tenantId}::uuid, 'invoice.overpaid', now(), ${JSON.stringify(SYSTEM)}::jsonb, 'invoice',
             paid.entity_id, paid.flow_id,
             jsonb_build_object('overpaid', paid.paid - paid.refunded - paid.total, 'paid', paid.paid,
                                'total', paid.total, 'currency', paid.currency),
             ${`invoice.overpaid/${payment.source}/${payment.externalId}`}::text
      from paid where paid.paid - paid.refunded > paid.total
      on conflict do nothing
    ),
    session as (
      update checkout_sessions set status = 'complete'
      where id = ${payment.checkoutSessionId ?? ''} and status <> 'complete'
    ),
    existing as (
      select payments.id, payments.state = 'applied' as applied, payments.signalled_at is not null as signalled,
             invoices.flow_id, payments.amount
      from payments left join invoices on invoices.id = payments.invoice_id
      where payments.source = ${payment.source} and payments.external_id = ${payment.externalId}
    )
    select (select payment_id from paid) as payment_id, (select flow_id from paid) as flow_id,
           (select id from existing) as existing_id, (select applied from existing) as existing_applied,
           (select signalled from existing) as existing_signalled,
           (select flow_id from existing) as existing_flow_id, (select amount from existing) as existing_amount
  `.execute(db);
  const row = rows[0];
  const news = (paymentId: string, flowId: string): PaymentNews => ({
    flowId,
    paymentId,
    amount: payment.amount,
    source: payment.source,
    receivedAt: payment.receivedAt.toISOString(),
  });
  if (row?.payment_id && row.flow_id) return { outcome: 'applied', news: news(row.payment_id, row.flow_id) };
  if (row?.existing_id) {
    const untold = row.existing_applied && !row.existing_signalled && row.existing_flow_id;
    return {
      outcome: 'duplicate',
      news: untold
        ? { ...news(row.existing_id, row.existing_flow_id ?? ''), amount: Number(row.existing_amount) }
        : undefined,
    };
  }
  return { outcome: 'needs_full_path' };
}

/** The invoice's flow has been told of these payments. */
export async function markSignalled(db: Kysely<Database>, paymentIds: readonly string[]): Promise<void> {
  if (paymentIds.length === 0) return;
  await db.updateTable('payments').set({ signalled_at: new Date() }).where('id', 'in', paymentIds).execute();
}
