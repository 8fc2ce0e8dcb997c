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

/** What recording one paid Checkout Session's payment in a batch did. */
export type PaymentAtOnce =
  | { outcome: 'applied'; news: PaymentNews }
  /** Recorded before (another event of the same payment intent): its own event told its flow. */
  | { outcome: 'duplicate' }
  /** It does not fit its invoice, or another transaction is recording it: take the full path. */
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
 * The common case of Stripe payments, a batch in one statement, relying on unique keys rather than row locks:
 * each payment once (per payment intent), each invoice's paid amount and state, and the audit events, each
 * payment's event with the invoice's paid amount as it stood after it (in the batch's order). Give each payment
 * intent once per batch.
 */
export async function recordPaymentsAtOnce(
  db: Kysely<Database>,
  payments: readonly (PaymentToRecord & { invoiceId: string })[],
): Promise<PaymentAtOnce[]> {
  if (payments.length === 0) return [];
  const batch = JSON.stringify(
    payments.map((payment, ord) => ({
      ord,
      tenant_id: payment.tenantId,
      invoice_id: payment.invoiceId,
      source: payment.source,
      external_id: payment.externalId,
      amount: payment.amount,
      currency: payment.currency,
      received_at: payment.receivedAt.toISOString(),
      actor: payment.actor,
      payment_intent: payment.paymentIntent ?? null,
      checkout_session_id: payment.checkoutSessionId ?? null,
    })),
  );
  const { rows } = await sql<{
    ord: number;
    payment_id: string | null;
    flow_id: string | null;
    existed: boolean;
  }>`
    with batch as (
      select * from jsonb_to_recordset(${batch}::jsonb) as b(
        ord int, tenant_id uuid, invoice_id uuid, source text, external_id text, amount bigint, currency text,
        received_at timestamptz, actor jsonb, payment_intent text, checkout_session_id text)
    ),
    fits as (
      select batch.* from batch join invoices on invoices.id = batch.invoice_id
        and invoices.tenant_id = batch.tenant_id and invoices.currency = batch.currency
        and invoices.state <> 'CANCELLED'
    ),
    payment as (
      insert into payments (tenant_id, invoice_id, source, external_id, amount, currency, received_at, recorded_by,
                            payment_intent, checkout_session_id)
      select tenant_id, invoice_id, source, external_id, amount, currency, received_at, actor, payment_intent,
             checkout_session_id
      from fits order by ord
      on conflict do nothing
      returning id, source, external_id
    ),
    placed as (
      select payment.id as payment_id, fits.*,
             sum(fits.amount) over (partition by fits.invoice_id order by fits.ord) as running
      from payment join fits on fits.source = payment.source and fits.external_id = payment.external_id
    ),
    paid as (
      update invoices set
        paid = invoices.paid + added.amount,
        state = case
          when invoices.refunded > 0 and invoices.paid + added.amount - invoices.refunded <= 0 then 'REFUNDED'
          when invoices.refunded > 0 then 'PARTIALLY_REFUNDED'
          when invoices.paid + added.amount >= invoices.total then 'PAID'
          else 'PAID_PARTIAL' end,
        paid_at = case when invoices.paid + added.amount - invoices.refunded >= invoices.total
                       then coalesce(invoices.paid_at, added.settled_at) end,
        updated_at = now()
      from (
        select placed.invoice_id, sum(placed.amount) as amount,
               min(placed.received_at) filter (
                 where invoices.paid + placed.running - invoices.refunded >= invoices.total) as settled_at
        from placed join invoices on invoices.id = placed.invoice_id
        group by placed.invoice_id
      ) as added
      where invoices.id = added.invoice_id
      returning invoices.id, invoices.flow_id, invoices.paid - added.amount as paid_before, invoices.total,
                invoices.refunded, invoices.currency, coalesce(invoices.number, invoices.invoice_key) as entity_id
    ),
    received as (
      select placed.*, paid.flow_id, paid.paid_before + placed.running as paid_then, paid.total, paid.refunded,
             paid.entity_id
      from placed join paid on paid.id = placed.invoice_id
    ),
    events as (
      insert into domain_events (tenant_id, type, occurred_at, actor, entity_type, entity_id, flow_id, payload,
                                 idempotency_key, trace_id)
      select tenant_id, type, occurred_at, actor, entity_type, entity_id, flow_id, payload, idempotency_key,
             (select coalesce(flows.root_id, flows.id) from flows where flows.id = event.flow_id)
      from (
        select tenant_id, 'payment.received', received_at, actor, 'invoice', entity_id, flow_id,
               jsonb_build_object('paymentId', payment_id, 'source', source, 'externalId', external_id,
                                  'amount', amount, 'currency', currency, 'paid', paid_then, 'total', total),
               'payment.received/' || source || '/' || external_id, ord, 0
        from received
        union all
        select tenant_id, 'invoice.overpaid', now(), ${JSON.stringify(SYSTEM)}::jsonb, 'invoice', entity_id,
               flow_id,
               jsonb_build_object('overpaid', paid_then - refunded - total, 'paid', paid_then, 'total', total,
                                  'currency', currency),
               'invoice.overpaid/' || source || '/' || external_id, ord, 1
        from received where paid_then - refunded > total
      ) as event(tenant_id, type, occurred_at, actor, entity_type, entity_id, flow_id, payload, idempotency_key,
                 ord, after)
      order by ord, after
      on conflict do nothing
    ),
    session as (
      update checkout_sessions set status = 'complete'
      where id in (select checkout_session_id from batch) and status <> 'complete'
    )
    select batch.ord, received.payment_id, received.flow_id, earlier.id is not null as existed
    from batch
    left join received on received.ord = batch.ord
    left join payments earlier on earlier.source = batch.source and earlier.external_id = batch.external_id
    order by batch.ord
  `.execute(db);
  return rows.map((row, i): PaymentAtOnce => {
    const payment = payments[i];
    if (payment && row.payment_id && row.flow_id)
      return {
        outcome: 'applied',
        news: {
          flowId: row.flow_id,
          paymentId: row.payment_id,
          amount: payment.amount,
          source: payment.source,
          receivedAt: payment.receivedAt.toISOString(),
        },
      };
    return row.existed ? { outcome: 'duplicate' } : { outcome: 'needs_full_path' };
  });
}
