import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import { appendEvent } from '../../db/events.js';
import { type OrderToFulfil, orderCheckoutChanged } from '../../db/orders.js';
import {
  type PaymentNews,
  type PaymentToRecord,
  recordMoneyEvent,
  recordPayment,
  recordPaymentsAtOnce,
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
  /** An order paid in full: its fulfillment starts. */
  paidOrder?: OrderToFulfil;
}

const intentOf = (value: string | { id: string } | null | undefined) =>
  typeof value === 'string' ? value : value?.id;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Metadata comes from outside: an id that is not one of ours is no id. */
const ourId = (value: string | undefined) => (value && UUID.test(value) ? value : undefined);

/**
 * Applies a batch of Stripe events from the inbox, in their order, in the caller's transaction: the paid
 * Checkout Sessions that name their invoice all in one statement (db/payments.ts, recordPaymentsAtOnce), the
 * rest (and a payment that does not fit its invoice) one by one through applyStripeEvent, after them. A
 * refund that follows its payment in the same batch finds it.
 */
export async function applyStripeEvents(
  trx: Kysely<Database>,
  events: readonly Stripe.Event[],
): Promise<StripeEventEffects[]> {
  const atOnce = new Map<number, PaymentToRecord & { invoiceId: string }>();
  const intents = new Set<string>();
  events.forEach((event, i) => {
    const payment = paidSessionPayment(event);
    if (!payment?.invoiceId || intents.has(payment.externalId)) return;
    intents.add(payment.externalId);
    atOnce.set(i, { ...payment, invoiceId: payment.invoiceId });
  });
  const recorded = await recordPaymentsAtOnce(trx, [...atOnce.values()]);
  const outcomes = new Map([...atOnce.keys()].map((i, k) => [i, recorded[k]]));
  const effects: StripeEventEffects[] = [];
  for (const [i, event] of events.entries()) {
    const outcome = outcomes.get(i);
    if (outcome?.outcome === 'applied') effects.push({ news: [outcome.news] });
    else if (outcome?.outcome === 'duplicate') effects.push({ news: [] });
    else effects.push(await applyStripeEvent(trx, event));
  }
  return effects;
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
  // An order's payment also moves the order: one by one, through applyStripeEvent.
  if (session.payment_status !== 'paid' || !tenantId || session.metadata?.orderId) return undefined;
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
 * Applies one Stripe event to the records, in the caller's transaction (the relay's, which marks its receipt
 * processed), each record read and locked before it is written:
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
      const paid = session.payment_status === 'paid';
      const news = paid ? await recordSessionPayment(trx, event, session) : [];
      const paidOrder = await orderNews(trx, event, paid ? 'paid' : 'processing');
      return paidOrder === undefined ? { news } : { news: [], paidOrder: paidOrder ?? undefined };
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
      if ((await orderNews(trx, event, 'expired')) !== undefined) return { news: [] };
      return { news: [], expired: closed && flowId ? { flowId, sessionId: session.id } : undefined };
    }
    case 'checkout.session.async_payment_failed': {
      const session = event.data.object;
      const tenantId = session.metadata?.tenantId;
      if (tenantId) await recordForFinance(trx, event, tenantId, session.metadata?.flowId);
      await orderNews(trx, event, 'failed');
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
  // A payment recorded before was told to its flow by the event that recorded it.
  return [];
}

/**
 * Moves the order a Checkout Session was opened for (its metadata names it): undefined when the session is no
 * order's, null when the order did not become paid, the order to fulfil when it did.
 */
async function orderNews(
  trx: Kysely<Database>,
  event: Stripe.Event,
  change: 'paid' | 'processing' | 'failed' | 'expired',
): Promise<OrderToFulfil | null | undefined> {
  const session = event.data.object as Stripe.Checkout.Session;
  const tenantId = ourId(session.metadata?.tenantId);
  const orderId = ourId(session.metadata?.orderId);
  if (!tenantId || !orderId) return undefined;
  const paid = await orderCheckoutChanged(trx, {
    tenantId,
    orderId,
    sessionId: session.id,
    change,
    at: new Date(event.created * 1000),
    actor: { type: 'webhook', id: `stripe:${event.id}` },
  });
  return paid ?? null;
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
