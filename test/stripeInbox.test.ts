import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { invoiceActivities } from '../activities/invoices.js';
import { createDb, type Db } from '../db/client.js';
import { migrateToLatest } from '../db/migrate.js';
import { pruneWebhookPayloads } from '../db/retention.js';
import { ensureTenant } from '../db/tenants.js';
import { createMailer } from '../integrations/email/mailer.js';
import type { StripeEventEffects } from '../integrations/payments/stripeEvents.js';
import { createStripeInbox, type StripeInboxOptions } from '../integrations/payments/stripeInbox.js';
import { createLogger } from '../runtime/logger.js';
import { createDatabaseIfMissing, dropDatabase, withDatabase } from '../scripts/stack/postgres.js';
import { paidSession, stripeEvent } from './helpers/stripeFixtures.js';

/**
 * Stripe's webhook stores a delivery and answers; the relay applies stored events in order and in batches, then
 * tells the flows. These tests drive the relay against PostgreSQL with a `tell` that records what flows would
 * hear (the webhook and the real flows are driven end to end in money.test.ts and invoicePayment.test.ts).
 */
let db: Db;
let tenantId: string;
const logger = createLogger({ logLevel: 'silent' }, 'inbox-test');
let counter = 0;

// A database of its own: every API the other test files run relays the shared database's Stripe receipts, and
// these relays, whose flows are a list, must neither take theirs nor lose their own to them.
const databaseName = `flowdesk_inbox_${Date.now()}_${randomBytes(3).toString('hex')}`;

beforeAll(async () => {
  await createDatabaseIfMissing(inject('databaseAdminUrl'), databaseName);
  db = createDb(withDatabase(inject('databaseAdminUrl'), databaseName), 4);
  await migrateToLatest(db);
  tenantId = (await ensureTenant(db, `inbox-${Date.now()}`, 'Inbox')).id;
});
afterAll(async () => {
  await db?.destroy();
  await dropDatabase(inject('databaseAdminUrl'), databaseName);
});

async function invoice(total = 1_000_000) {
  counter++;
  const issuing = invoiceActivities({
    db,
    mailer: createMailer({ outboxDir: os.tmpdir() }),
    from: 'inbox@example.com',
    publicUrl: 'http://127.0.0.1',
    companyName: 'Inbox',
  });
  const flowId = `inbox-flow-${Date.now()}-${counter}`;
  const issued = await issuing.issueInvoice({
    tenantId,
    invoiceKey: `IN-${Date.now()}-${counter}`,
    flowId,
    customer: { name: 'Inbox', email: 'inbox@example.com' },
    currency: 'EUR',
    lines: [{ description: 'Service', quantity: 1, unitPrice: total }],
    dueInMs: 86_400_000,
  });
  return { id: issued.invoiceId, flowId, metadata: { tenantId, invoiceId: issued.invoiceId, flowId } };
}

const payment = (
  eventId: string,
  target: Awaited<ReturnType<typeof invoice>>,
  intent: string,
  amount: number,
) =>
  paidSession(eventId, {
    sessionId: `cs_${intent}`,
    paymentIntent: intent,
    amount,
    metadata: target.metadata,
  });

const refund = (eventId: string, intent: string, refundedSoFar: number) =>
  stripeEvent(eventId, 'charge.refunded', 'charge', {
    id: `ch_${intent}`,
    amount_refunded: refundedSoFar,
    refunded: false,
    currency: 'eur',
    payment_intent: intent,
    metadata: {},
  });

/** Stores deliveries as the webhook does, in an inbox of their own whose relay is not running. */
async function receive(...payloads: string[]) {
  const webhook = relay().inbox;
  await Promise.all(payloads.map((raw) => webhook.receive(JSON.parse(raw) as Stripe.Event, raw)));
}

/**
 * A relay whose flows are a list of what they heard (and on which task queue flows it starts would run); `failFor`
 * makes telling a flow fail.
 */
function relay(options: Partial<StripeInboxOptions> & { failFor?: Set<string> } = {}) {
  const heard: StripeEventEffects[] = [];
  const queues: string[] = [];
  const inbox = createStripeInbox({
    db,
    logger,
    tell: async (effects, taskQueue) => {
      const flowId = effects.news[0]?.flowId ?? effects.expired?.flowId ?? '';
      if (options.failFor?.has(flowId)) throw new Error(`Temporal is unavailable for ${flowId}`);
      heard.push(effects);
      queues.push(taskQueue);
    },
    taskQueue: 'stripe-inbox-test',
    ...options,
  });
  return { inbox, heard, queues };
}

const receipt = (eventId: string) =>
  db
    .selectFrom('webhook_receipts')
    .selectAll()
    .where('source', '=', 'stripe')
    .where('external_id', '=', eventId)
    .executeTakeFirstOrThrow();

const invoiceRow = (id: string) =>
  db
    .selectFrom('invoices')
    .select(['paid', 'refunded', 'state'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();

/** Makes a receipt that waits to be tried again due now, rather than in a few seconds. */
const dueNow = (eventId: string) =>
  db
    .updateTable('webhook_receipts')
    .set({ retry_at: new Date(Date.now() - 1_000) })
    .where('source', '=', 'stripe')
    .where('external_id', '=', eventId)
    .execute();

describe("Stripe's inbox", () => {
  it('applies stored deliveries in batches, each payment once, and tells each flow of each payment once', async () => {
    const invoices = [await invoice(), await invoice()];
    const events = Array.from({ length: 23 }, (_, i) => {
      const target = invoices[i % 2] ?? invoices[0];
      if (!target) throw new Error('no invoice');
      return payment(`evt_batch_${counter}_${i}`, target, `pi_batch_${counter}_${i}`, 1_000 + i);
    });
    // Stripe delivers some twice; each stored once.
    await receive(...events, ...events.slice(0, 5));
    // Nothing is applied until a relay runs: the webhook only stored them (a relay that had stopped).
    expect(await invoiceRow(invoices[0]?.id ?? '')).toMatchObject({ paid: '0' });
    const { inbox, heard } = relay({ batchSize: 7, sweepMs: 50 });
    inbox.start();
    for (let i = 0; i < 100 && heard.length < 23; i++) await sleep(50);
    await inbox.stop();

    expect(heard).toHaveLength(23);
    expect(new Set(heard.map((effects) => effects.news[0]?.paymentId)).size).toBe(23);
    const paid = (parity: number) =>
      events.reduce((sum, _event, i) => (i % 2 === parity ? sum + 1_000 + i : sum), 0);
    expect(await invoiceRow(invoices[0]?.id ?? '')).toMatchObject({
      paid: String(paid(0)),
      state: 'PAID_PARTIAL',
    });
    expect(await invoiceRow(invoices[1]?.id ?? '')).toMatchObject({ paid: String(paid(1)) });
    const payments = await db
      .selectFrom('payments')
      .select('id')
      .where(
        'invoice_id',
        'in',
        invoices.map((target) => target?.id ?? ''),
      )
      .execute();
    expect(payments).toHaveLength(23);
    const receipts = await db
      .selectFrom('webhook_receipts')
      .select(['processed_at', 'relayed_at', 'position'])
      .where('external_id', 'like', `evt_batch_${counter}_%`)
      .orderBy('position')
      .execute();
    expect(receipts).toHaveLength(23);
    expect(receipts.every((row) => row.processed_at && row.relayed_at)).toBe(true);
  });

  it('starts flows on the task queue of the deployment that received the event, whichever process relays it', async () => {
    const target = await invoice(1_000);
    const payload = payment(`evt_queue_${counter}`, target, `pi_queue_${counter}`, 1_000);
    await relay({ taskQueue: 'deployment-that-received' }).inbox.receive(JSON.parse(payload), payload);
    const { inbox, heard, queues } = relay({ taskQueue: 'deployment-that-relays' });
    await inbox.drain();
    expect(heard).toHaveLength(1);
    expect(queues).toEqual(['deployment-that-received']);
  });

  it('records the payments of one invoice in one batch one after another, each payment intent once', async () => {
    const target = await invoice(1_000);
    const first = `pi_first_${counter}`;
    await receive(
      payment(`evt_first_${counter}`, target, first, 600),
      payment(`evt_second_${counter}`, target, `pi_second_${counter}`, 600),
      // Stripe reports the first payment again under another event: the same payment intent.
      payment(`evt_first_again_${counter}`, target, first, 600),
    );
    const { inbox, heard } = relay();
    await inbox.drain();
    expect(heard).toHaveLength(2);
    const row = await db
      .selectFrom('invoices')
      .select(['paid', 'state', 'paid_at'])
      .where('id', '=', target.id)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({ paid: '1200', state: 'PAID' });
    expect(row.paid_at).not.toBeNull();
    const events = await db
      .selectFrom('domain_events')
      .select(['type', 'payload'])
      .where('flow_id', '=', target.flowId)
      .where('type', 'in', ['payment.received', 'invoice.overpaid'])
      .orderBy('position')
      .execute();
    expect(events.map((event) => [event.type, event.payload.paid])).toEqual([
      ['payment.received', 600],
      ['payment.received', 1200],
      ['invoice.overpaid', 1200],
    ]);
    expect(events[2]?.payload).toMatchObject({ overpaid: 200, total: 1000 });
    for (const id of [`evt_first_${counter}`, `evt_second_${counter}`, `evt_first_again_${counter}`])
      expect((await receipt(id)).relayed_at).not.toBeNull();
  });

  it('tells a flow it could not reach later, and marks its receipt relayed only then', async () => {
    const target = await invoice();
    const event = payment(`evt_unreached_${counter}`, target, `pi_unreached_${counter}`, 5_000);
    await receive(event);
    const failFor = new Set([target.flowId]);
    const { inbox, heard } = relay({ failFor });
    await inbox.drain();
    const held = await receipt(`evt_unreached_${counter}`);
    expect(held).toMatchObject({ relayed_at: null, attempts: 1 });
    expect(held.processed_at).not.toBeNull();
    expect(held.last_error).toContain('Temporal is unavailable');
    expect(held.retry_at?.getTime()).toBeGreaterThan(Date.now());
    const [recorded] = await db
      .selectFrom('payments')
      .selectAll()
      .where('invoice_id', '=', target.id)
      .execute();
    expect(recorded).toMatchObject({ amount: '5000' });
    expect(heard).toHaveLength(0);

    failFor.clear();
    await dueNow(`evt_unreached_${counter}`);
    await inbox.drain();
    expect(heard.map((effects) => effects.news[0]?.paymentId)).toEqual([recorded?.id]);
    const told = await receipt(`evt_unreached_${counter}`);
    expect(told).toMatchObject({ attempts: 1, last_error: null });
    expect(told.relayed_at).not.toBeNull();
    // Applied once: the retry only told the flow.
    expect(await invoiceRow(target.id)).toMatchObject({ paid: '5000' });
  });

  it('holds an event that cannot be applied, and applies the rest of its batch', async () => {
    const target = await invoice();
    const before = payment(`evt_before_bad_${counter}`, target, `pi_before_bad_${counter}`, 1_000);
    // A charge without a currency: Stripe never sends one, but nothing of it may stop the inbox.
    const broken = JSON.stringify({
      ...JSON.parse(refund(`evt_bad_${counter}`, `pi_before_bad_${counter}`, 10)),
    });
    const bad = JSON.parse(broken);
    delete bad.data.object.currency;
    const after = payment(`evt_after_bad_${counter}`, target, `pi_after_bad_${counter}`, 2_000);
    await receive(before, JSON.stringify(bad), after);
    const { inbox, heard } = relay();
    await inbox.drain();
    expect(heard).toHaveLength(2);
    expect(await invoiceRow(target.id)).toMatchObject({ paid: '3000', refunded: '0' });
    const held = await receipt(`evt_bad_${counter}`);
    expect(held).toMatchObject({ processed_at: null, relayed_at: null, attempts: 1 });
    expect(held.last_error).toMatch(/toUpperCase|undefined/);
  });

  it('keeps a refund that arrives before its payment until the payment is recorded, then applies it once', async () => {
    const target = await invoice();
    const intent = `pi_early_refund_${counter}`;
    await receive(refund(`evt_early_refund_${counter}`, intent, 400_000));
    const { inbox } = relay();
    await inbox.drain();
    const waiting = await receipt(`evt_early_refund_${counter}`);
    expect(waiting).toMatchObject({ processed_at: null, attempts: 1 });
    expect(waiting.last_error).toContain(`no payment of payment intent ${intent}`);

    await receive(payment(`evt_late_payment_${counter}`, target, intent, 1_000_000));
    await inbox.drain();
    expect(await invoiceRow(target.id)).toMatchObject({ paid: '1000000', refunded: '0', state: 'PAID' });
    await dueNow(`evt_early_refund_${counter}`);
    await inbox.drain();
    await dueNow(`evt_early_refund_${counter}`);
    await inbox.drain();
    expect(await invoiceRow(target.id)).toMatchObject({
      paid: '1000000',
      refunded: '400000',
      state: 'PARTIALLY_REFUNDED',
    });
    expect((await receipt(`evt_early_refund_${counter}`)).relayed_at).not.toBeNull();
    const refunds = await db
      .selectFrom('money_events')
      .select('amount')
      .where('external_id', 'like', `ch_${intent}/%`)
      .execute();
    expect(refunds).toEqual([{ amount: '400000' }]);
  });

  it('closes a refund whose payment never came once Stripe would have stopped retrying, with why on record', async () => {
    const intent = `pi_never_${counter}`;
    await receive(refund(`evt_never_${counter}`, intent, 1_000));
    const { inbox } = relay();
    await inbox.drain();
    expect(await receipt(`evt_never_${counter}`)).toMatchObject({ processed_at: null, attempts: 1 });
    await sql`update webhook_receipts set received_at = now() - interval '73 hours', retry_at = null
      where source = 'stripe' and external_id = ${`evt_never_${counter}`}`.execute(db);
    await inbox.drain();
    const closed = await receipt(`evt_never_${counter}`);
    expect(closed.processed_at).not.toBeNull();
    expect(closed.relayed_at).not.toBeNull();
    expect(closed.effects).toMatchObject({ news: [], notYet: expect.stringContaining(intent) });
  });

  it('keeps whole payloads for WEBHOOK_PAYLOAD_DAYS, then only what deduplication and the audit need', async () => {
    const target = await invoice();
    const paid = JSON.parse(payment(`evt_old_${counter}`, target, `pi_old_${counter}`, 1_000));
    paid.data.object.customer_details = { email: 'mary@example.com', name: 'Mary Jackson' };
    const waiting = refund(`evt_old_waiting_${counter}`, `pi_nowhere_${counter}`, 10);
    const recent = payment(`evt_recent_${counter}`, target, `pi_recent_${counter}`, 1_000);
    await receive(JSON.stringify(paid), waiting, recent);
    const { inbox } = relay();
    await inbox.drain();
    await sql`update webhook_receipts set received_at = now() - interval '31 days'
      where external_id in (${`evt_old_${counter}`}, ${`evt_old_waiting_${counter}`})`.execute(db);

    expect(await pruneWebhookPayloads(db, 30)).toBeGreaterThanOrEqual(1);
    const pruned = await receipt(`evt_old_${counter}`);
    expect(pruned.pruned_at).not.toBeNull();
    expect(pruned.payload).toEqual({
      id: `evt_old_${counter}`,
      type: 'checkout.session.completed',
      created: paid.created,
      object: { id: `cs_pi_old_${counter}`, object: 'checkout.session' },
    });
    expect(pruned.effects).toMatchObject({ news: [{ flowId: target.flowId }] });
    // A refund still waiting for its payment keeps all of it; so does a recent delivery.
    expect((await receipt(`evt_old_waiting_${counter}`)).pruned_at).toBeNull();
    expect((await receipt(`evt_recent_${counter}`)).payload).toMatchObject({
      data: { object: { amount_total: 1_000 } },
    });
  });
});
