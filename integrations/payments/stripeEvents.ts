import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import { appendEvent } from '../../db/events.js';
import {
  type PaymentNews,
  type PaymentToRecord,
  recordMoneyEvent,
  recordPayment,
  recordPaymentAtOnce,
} from '../../db/payments.js';
import type { Database } from '../../db/schema.js';
import type { Actor } from '../../domain/flow.js';

/** What the caller tells flows once the event's transaction has committed. */
export interface StripeEventEffects {
  /** Invoices whose money changed: their flows re-read it (a payment's amount goes along for older builds). */
  news: (Pick<PaymentNews, 'flowId' | 'paymentId'> & Partial<PaymentNews>)[];
  /** A Checkout Session Stripe closed unpaid, for the flow that opened it. */
  expired?: { flowId: string; sessionId: string };
  /** Why the event cannot be applied yet (it names a payment not recorded yet): nothing was written. */
  notYet?: string;
}

const intentOf = (value: string | { id: string } | null | undefined) =>
  typeof value === 'string' ? value : value?.id;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Metadata comes from outside: an id that is not one of ours is no id. */
const ourId = (value: string | undefined) => (value && UUID.test(value) ? value : undefined);

/**
 * Stores one delivery of a Stripe event in the inbox (one statement); the relay applies it. A repeated delivery
 * of an event (Stripe's own retry) stores nothing.
 */
export async function receiveStripeEvent(
  db: Kysely<Database>,
  event: Pick<Stripe.Event, 'id' | 'type'>,
  raw: string,
): Promise<{ duplicate: boolean }> {
  const receipt = await db
    .insertInto('webhook_receipts')
    .values({ source: 'stripe', external_id: event.id, event_type: event.type, payload: raw })
    .onConflict((oc) => oc.columns(['source', 'external_id']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return { duplicate: receipt === undefined };
}

/** The payment a paid Checkout Session event reports, as its metadata attributes it. */
function paidSessionPayment(event: Stripe.Event): PaymentToRecord | undefined {
  if (
    event.type !== 'checkout.session.completed' &&
    event.type !== 'checkout.session.async_payment_succeeded'
  )
    return undefined;
  const session = event.data.object;
  const tenantId = ourId(session.metadata?.tenantId);
  if (session.payment_status !== 'paid' || !tenantId) return undefined;
  return sessionPayment(event, session, { tenantId, invoiceId: ourId(session.metadata?.invoiceId) });
}

/** A session's payment, attributed to a tenant and (when known) an invoice. */
function sessionPayment(
  event: Stripe.Event,
  session: Stripe.Checkout.Session,
  attribution: { tenantId: string; invoiceId?: string },
): PaymentToRecord {
  const paymentIntent = intentOf(session.payment_intent);
  return {
    ...attribution,
    source: 'stripe',
    externalId: paymentIntent ?? session.id,
    amount: session.amount_total ?? 0,
    currency: (session.currency ?? '').toUpperCase(),
    receivedAt: new Date(event.created * 1000),
    actor: { type: 'webhook', id: `stripe:${event.id}` },
    paymentIntent,
    checkoutSessionId: session.id,
  };
}

/**
 * Applies one Stripe event from the inbox to the records, in the caller's transaction (the relay's, which marks
 * its receipt processed):
 * - a paid Checkout Session (`checkout.session.completed` paid, `checkout.session.async_payment_succeeded`) is
 *   a payment, recorded once by its payment intent: applied to its invoice, or held unapplied with its reason;
 * - `checkout.session.expired` closes that session in the records; the flow opens a new one if it needs one;
 * - `charge.refunded` and `charge.dispute.created` are recorded against the payment of their payment intent;
 * - `checkout.session.async_payment_failed` is on record for finance.
 * None of them moves a flow backwards, and a payment reported twice (two events of one payment intent) is
 * recorded once. A refund or dispute that arrives before its payment is not applied yet (`notYet`): the relay
 * tries it again later.
 */
export async function applyStripeEvent(
  trx: Kysely<Database>,
  event: Stripe.Event,
): Promise<StripeEventEffects> {
  const actor: Actor = { type: 'webhook', id: `stripe:${event.id}` };
  const occurredAt = new Date(event.created * 1000);
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded': {
      const session = event.data.object;
      if (session.payment_status !== 'paid') return { news: [] };
      const attributed = paidSessionPayment(event);
      if (attributed?.invoiceId) {
        const atOnce = await recordPaymentAtOnce(trx, { ...attributed, invoiceId: attributed.invoiceId });
        if (atOnce.outcome !== 'needs_full_path') return { news: atOnce.news ? [atOnce.news] : [] };
      }
      return { news: await recordSessionPayment(trx, event, session) };
    }
    case 'checkout.session.expired': {
      const session = event.data.object;
      const closed = await trx
        .updateTable('checkout_sessions')
        .set({ status: 'expired' })
        .where('id', '=', session.id)
        .where('status', '=', 'open')
        .returning(['tenant_id', 'invoice_id'])
        .executeTakeFirst();
      const flowId = session.metadata?.flowId;
      if (closed) await recordForFinance(trx, event, closed.tenant_id, flowId);
      return { news: [], expired: closed && flowId ? { flowId, sessionId: session.id } : undefined };
    }
    case 'checkout.session.async_payment_failed': {
      const session = event.data.object;
      const tenantId = session.metadata?.tenantId;
      if (tenantId) await recordForFinance(trx, event, tenantId, session.metadata?.flowId);
      return { news: [] };
    }
    case 'charge.refunded': {
      const charge = event.data.object;
      const paymentIntent = intentOf(charge.payment_intent);
      if (!paymentIntent) return { news: [] };
      const recorded = await recordMoneyEvent(trx, {
        kind: 'refund',
        paymentIntent,
        // Stripe reports the charge's refunded amount so far: each new amount is one refund step.
        externalId: `${charge.id}/refunded/${charge.amount_refunded}`,
        amount: charge.amount_refunded,
        currency: charge.currency.toUpperCase(),
        status: charge.refunded ? 'refunded_in_full' : 'refunded_in_part',
        occurredAt,
        actor,
      });
      return effectsOf(recorded, paymentIntent);
    }
    case 'charge.dispute.created': {
      const dispute = event.data.object;
      const paymentIntent = intentOf(dispute.payment_intent);
      if (!paymentIntent) return { news: [] };
      const recorded = await recordMoneyEvent(trx, {
        kind: 'dispute',
        paymentIntent,
        externalId: dispute.id,
        amount: dispute.amount,
        currency: dispute.currency.toUpperCase(),
        status: dispute.status,
        reason: dispute.reason,
        occurredAt,
        actor,
      });
      return effectsOf(recorded, paymentIntent);
    }
    default:
      return { news: [] };
  }
}

function effectsOf(
  recorded: Awaited<ReturnType<typeof recordMoneyEvent>>,
  paymentIntent: string,
): StripeEventEffects {
  if (recorded.outcome === 'unmatched')
    return { news: [], notYet: `no payment of payment intent ${paymentIntent} is recorded yet` };
  return {
    news:
      recorded.outcome === 'recorded' && recorded.flowId
        ? [{ flowId: recorded.flowId, paymentId: recorded.paymentId }]
        : [],
  };
}

/** The session's payment, attributed by its metadata or, failing that, by the session Flowdesk opened. */
async function recordSessionPayment(
  trx: Kysely<Database>,
  event: Stripe.Event,
  session: Stripe.Checkout.Session,
): Promise<StripeEventEffects['news']> {
  const opened = await trx
    .selectFrom('checkout_sessions')
    .select(['tenant_id', 'invoice_id'])
    .where('id', '=', session.id)
    .executeTakeFirst();
  const tenantId = opened?.tenant_id ?? ourId(session.metadata?.tenantId);
  if (!tenantId) return [];
  const payment = sessionPayment(event, session, {
    tenantId,
    invoiceId: opened?.invoice_id ?? ourId(session.metadata?.invoiceId),
  });
  const result = await recordPayment(trx, payment);
  await trx
    .updateTable('checkout_sessions')
    .set({ status: 'complete' })
    .where('id', '=', session.id)
    .execute();
  const told = {
    amount: payment.amount,
    source: payment.source,
    receivedAt: payment.receivedAt.toISOString(),
  };
  if (result.outcome === 'applied') return [{ flowId: result.flowId, paymentId: result.paymentId, ...told }];
  if (result.outcome === 'duplicate' && result.applied && result.flowId)
    return [{ flowId: result.flowId, paymentId: result.paymentId, ...told }];
  return [];
}

async function recordForFinance(
  trx: Kysely<Database>,
  event: Stripe.Event,
  tenantId: string,
  flowId: string | undefined,
): Promise<void> {
  const object = event.data.object as { id: string; metadata?: Record<string, string> | null };
  await appendEvent(trx, {
    tenantId,
    type: `stripe.${event.type}`,
    actor: { type: 'webhook', id: `stripe:${event.id}` },
    entity: { type: 'invoice', id: object.metadata?.invoiceId ?? object.id },
    flowId,
    payload: { stripeEventId: event.id, objectId: object.id },
    idempotencyKey: `stripe/${event.id}`,
  });
}
