import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { type InvoicePaymentInput, invoiceFlowId, paymentReceived } from '../domain/invoice.js';
import { createLogger } from '../runtime/logger.js';
import { invoicePayment } from '../workflows/invoicePayment.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { deliverStripeEvent, waitForFlowRow } from './helpers/flows.js';
import { waitForReadAfterSignal } from './helpers/histories.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { paidSession, stripeEvent } from './helpers/stripeFixtures.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

/**
 * Money as Stripe reports it, with Stripe's own object shapes (test/fixtures/stripe): every payment is recorded
 * once, applied or held for finance; refunds and disputes reach their payment by payment intent; a flow acts on
 * the records, never on what a signal says.
 */
const WEBHOOK_SECRET = 'whsec_test_money';
let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let worker: TestWorker;
let tenant: TestTenant;
let finance: ReturnType<typeof apiClient>;
let coordinator: ReturnType<typeof apiClient>;
let counter = 0;

beforeAll(async () => {
  [smtp, stripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  const env = {
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  api = await startTestApi({ env });
  const config = testConfig({ ...env, SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  worker = await startTestWorker({
    activities: createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') }),
  });
  tenant = await createTestTenant(api.deps.db);
  finance = apiClient(api.url, await tenant.key(['finance']));
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripeMock?.stop()]);
});

/** An invoice of €10,000.00 in its flow, waiting for payment; its first Checkout Session. */
async function waitingInvoice() {
  counter++;
  const invoiceKey = `M-${Date.now()}-${counter}`;
  const input = {
    tenantId: tenant.tenantId,
    tenantSlug: tenant.slug,
    invoiceKey,
    title: 'Battery storage',
    currency: 'EUR',
    customer: { name: 'Mary Jackson', email: `mj+${invoiceKey.toLowerCase()}@example.com` },
    lines: [{ description: 'Battery', quantity: 1, unitPrice: 1_000_000 }],
    payment: { dueIn: '1 hour', dunning: ['1 hour'] },
    retry: { maximumAttempts: 2, initialInterval: '100 milliseconds', maximumInterval: '200 milliseconds' },
  } as InvoicePaymentInput;
  const flowId = invoiceFlowId(tenant.slug, invoiceKey);
  const handle = await worker.client.workflow.start(invoicePayment, {
    taskQueue: worker.taskQueue,
    workflowId: flowId,
    args: [input],
  });
  await waitForFlowRow(api.deps.db, flowId, (row) => row?.state === 'waiting');
  const invoice = await api.deps.db
    .selectFrom('invoices')
    .selectAll()
    .where('flow_id', '=', flowId)
    .executeTakeFirstOrThrow();
  const [session] = await sessionsOf(invoice.id);
  if (!session) throw new Error('no checkout session');
  const metadata = { tenantId: tenant.tenantId, invoiceId: invoice.id, flowId };
  return { flowId, handle, invoice, session, metadata, email: input.customer.email };
}

const sessionsOf = (invoiceId: string) =>
  api.deps.db
    .selectFrom('checkout_sessions')
    .selectAll()
    .where('invoice_id', '=', invoiceId)
    .orderBy('attempt')
    .execute();

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const value = await read();
    if (ok(value)) return value;
    await sleep(100);
  }
  throw new Error(`never: ${what}`);
}

const post = (payload: string) => deliverStripeEvent(api, payload, WEBHOOK_SECRET);

const paymentsWith = (externalId: string) =>
  api.deps.db.selectFrom('payments').selectAll().where('external_id', '=', externalId).execute();

const eventTypes = async (flowId: string) =>
  (
    await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('flow_id', '=', flowId)
      .orderBy('occurred_at')
      .orderBy('position')
      .execute()
  ).map((event) => event.type);

describe('money Stripe reports', () => {
  it('holds payments it cannot apply (cancelled or unknown invoice, another currency) for finance, who applies or refunds them', async () => {
    const cancelled = await waitingInvoice();
    expect(
      (await coordinator.post(`/v1/flows/${encodeURIComponent(cancelled.flowId)}/cancel`, {})).status,
    ).toBe(202);
    await waitForFlowRow(api.deps.db, cancelled.flowId, (row) => row?.state === 'cancelled');
    // Every link was closed before the credit note was written.
    expect((await sessionsOf(cancelled.invoice.id)).map((session) => session.status)).toEqual(['expired']);
    const trail = await eventTypes(cancelled.flowId);
    expect(trail.indexOf('invoice.checkout.expired')).toBeLessThan(trail.indexOf('invoice.cancelled'));

    // The customer paid the cancelled invoice's link anyway (Stripe completed it before it expired).
    const late = paidSession(`evt_late_${counter}`, {
      sessionId: cancelled.session.id,
      paymentIntent: `pi_late_${counter}`,
      amount: 1_000_000,
      metadata: cancelled.metadata,
    });
    await post(late);
    await post(late);
    const other = await waitingInvoice();
    await post(
      paidSession(`evt_usd_${counter}`, {
        sessionId: other.session.id,
        paymentIntent: `pi_usd_${counter}`,
        amount: 1_000_000,
        currency: 'USD',
        metadata: other.metadata,
      }),
    );
    await post(
      paidSession(`evt_unknown_${counter}`, {
        sessionId: `cs_unknown_${counter}`,
        paymentIntent: `pi_unknown_${counter}`,
        amount: 5_000,
        metadata: { tenantId: tenant.tenantId, invoiceId: randomUUID() },
      }),
    );

    for (const [externalId, reason] of [
      [`pi_late_${counter - 1}`, 'invoice_cancelled'],
      [`pi_usd_${counter}`, 'currency_mismatch'],
      [`pi_unknown_${counter}`, 'unknown_invoice'],
    ]) {
      const rows = await paymentsWith(externalId ?? '');
      expect(rows.map((row) => [row.state, row.unapplied_reason])).toEqual([['unapplied', reason]]);
    }
    const listed = await finance.get('/v1/payments?state=unapplied');
    expect(listed.status).toBe(200);
    const waiting = listed.body.payments.map((p: { externalId: string; reason: string }) => p.externalId);
    expect(waiting).toEqual(
      expect.arrayContaining([`pi_late_${counter - 1}`, `pi_usd_${counter}`, `pi_unknown_${counter}`]),
    );
    // The other invoice was not paid by a payment in another currency.
    expect((await finance.get(`/v1/invoices/${other.invoice.number}`)).body).toMatchObject({
      paid: 0,
      balance: 1_000_000,
    });

    const [usd] = await paymentsWith(`pi_usd_${counter}`);
    const refused = await finance.post(`/v1/payments/${usd?.id}/apply`, {
      invoiceNumber: other.invoice.number,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('currency');

    // Finance applies the cancelled invoice's payment to the other invoice: that flow reads it and completes.
    const [held] = await paymentsWith(`pi_late_${counter - 1}`);
    const applied = await finance.post(`/v1/payments/${held?.id}/apply`, {
      invoiceNumber: other.invoice.number,
      note: 'the customer paid the old link',
    });
    expect(applied.status, applied.text).toBe(200);
    expect(await other.handle.result()).toMatchObject({ paid: 1_000_000, overpaid: 0 });

    const [unknown] = await paymentsWith(`pi_unknown_${counter}`);
    const refunded = await finance.post(`/v1/payments/${unknown?.id}/refund`, { note: 'not ours' });
    expect(refunded.status, refunded.text).toBe(200);
    expect(refunded.body.stripeRefundId).toMatch(/^re_/);
    expect((await finance.post(`/v1/payments/${unknown?.id}/refund`, {})).status).toBe(409);
    const unappliedEvents = await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('tenant_id', '=', tenant.tenantId)
      .where('type', 'in', ['payment.unapplied', 'payment.unapplied.refunded'])
      .where('entity_id', 'in', [held?.id ?? '', usd?.id ?? '', unknown?.id ?? ''])
      .execute();
    expect(unappliedEvents).toHaveLength(4);
  });

  it('tells the flow of a payment once; a relay that stopped before telling it tells it when the inbox is swept', async () => {
    const { handle, session, metadata } = await waitingInvoice();
    const event = paidSession(`evt_once_${counter}`, {
      sessionId: session.id,
      paymentIntent: `pi_once_${counter}`,
      amount: 400_000,
      metadata,
    });
    // The same payment reported by a second event (Stripe sends `async_payment_succeeded` as well for some).
    const again = paidSession(`evt_once_again_${counter}`, {
      sessionId: session.id,
      paymentIntent: `pi_once_${counter}`,
      amount: 400_000,
      metadata,
    });
    const signals = async () =>
      ((await handle.fetchHistory()).events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes)
        .length;
    await post(event);
    await post(event);
    await post(again);
    await expect.poll(signals).toBe(1);
    await sleep(500);
    expect(await signals()).toBe(1);
    // The relay applied the event and then stopped before telling the flow (its process died): the receipt is
    // processed, not relayed, and its lease has run out. The next sweep tells the flow.
    await api.deps.db
      .updateTable('webhook_receipts')
      .set({ relayed_at: null, retry_at: new Date(Date.now() - 1_000) })
      .where('source', '=', 'stripe')
      .where('external_id', '=', `evt_once_${counter}`)
      .execute();
    // (A signal that arrives during a workflow task is written to the history after it.)
    await expect.poll(signals, { timeout: 10_000 }).toBe(2);
    expect((await paymentsWith(`pi_once_${counter}`)).length).toBe(1);
    await handle.cancel();
  });

  it('keeps waiting for the payment when Stripe lets a link expire: a new link, and no step completed', async () => {
    const { flowId, invoice, session, metadata } = await waitingInvoice();
    await post(
      stripeEvent(`evt_expired_${counter}`, 'checkout.session.expired', 'checkout.session', {
        id: session.id,
        status: 'expired',
        payment_status: 'unpaid',
        metadata,
      }),
    );
    const sessions = await until(
      () => sessionsOf(invoice.id),
      (rows) => rows.length === 2,
      'a second session',
    );
    expect(sessions.map((row) => [row.attempt, row.status])).toEqual([
      [1, 'expired'],
      [2, 'open'],
    ]);
    const row = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'waiting');
    expect(row.progress_done).toBe(3);
    expect(row.steps?.find((step) => step.name === 'awaitPayment')?.state).toBe('waiting');
    const completed = await api.deps.db
      .selectFrom('domain_events')
      .select('payload')
      .where('flow_id', '=', flowId)
      .where('type', '=', 'flow.step.completed')
      .execute();
    expect(completed.map((event) => event.payload.step)).not.toContain('awaitPayment');
  });

  it('acts on the records, not on a signal: a payment signalled by hand pays nothing', async () => {
    const { flowId, handle, invoice, email } = await waitingInvoice();
    await handle.signal(paymentReceived, { paymentId: 'forged', amount: 1_000_000, source: 'stripe' });
    // The flow read the invoice's money and found nothing paid.
    await waitForReadAfterSignal(handle);
    await sleep(500);
    const row = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'waiting');
    expect(row.progress_done).toBe(3);
    expect(
      smtp.messages.filter((m) => m.envelope.to.includes(email) && /^Receipt/.test(m.parsed.subject ?? '')),
    ).toEqual([]);
    await finance.post(`/v1/invoices/${invoice.number}/payments`, {
      amount: 1_000_000,
      currency: 'EUR',
      reference: `R-${counter}`,
    });
    expect(await handle.result()).toMatchObject({ paid: 1_000_000 });
  });

  it('closes the old link when a partial payment opens one for the balance, and every link once paid', async () => {
    const { handle, invoice, session, metadata } = await waitingInvoice();
    expect(
      (
        await finance.post(`/v1/invoices/${invoice.number}/payments`, {
          amount: 400_000,
          currency: 'EUR',
          reference: `P-${counter}`,
        })
      ).status,
    ).toBe(201);
    const sessions = await until(
      () => sessionsOf(invoice.id),
      (rows) => rows.length === 2,
      'a balance session',
    );
    expect(sessions.map((row) => [row.attempt, Number(row.amount), row.status])).toEqual([
      [1, 1_000_000, 'expired'],
      [2, 600_000, 'open'],
    ]);
    await post(
      paidSession(`evt_rest_${counter}`, {
        sessionId: sessions[1]?.id ?? '',
        paymentIntent: `pi_rest_${counter}`,
        amount: 600_000,
        metadata,
      }),
    );
    expect(await handle.result()).toMatchObject({ paid: 1_000_000, overpaid: 0 });
    expect((await sessionsOf(invoice.id)).every((row) => row.status !== 'open')).toBe(true);
    expect(session.id).toBe(sessions[0]?.id);
  });

  it('records refunds and disputes against their payment by payment intent, once, and shows them on the invoice', async () => {
    const { handle, invoice, session, metadata } = await waitingInvoice();
    const intent = `pi_paid_${counter}`;
    await post(
      paidSession(`evt_paid_${counter}`, {
        sessionId: session.id,
        paymentIntent: intent,
        amount: 1_000_000,
        metadata,
      }),
    );
    await handle.result();
    // Charges carry no Flowdesk metadata here: they are matched by their payment intent alone.
    const refund = (id: string, refundedSoFar: number) =>
      stripeEvent(id, 'charge.refunded', 'charge', {
        id: `ch_${counter}`,
        amount: 1_000_000,
        amount_captured: 1_000_000,
        amount_refunded: refundedSoFar,
        refunded: refundedSoFar === 1_000_000,
        currency: 'eur',
        payment_intent: intent,
        metadata: {},
      });
    await post(refund(`evt_refund1_${counter}`, 300_000));
    await post(refund(`evt_refund1_${counter}`, 300_000));
    let view = (await finance.get(`/v1/invoices/${invoice.number}`)).body;
    expect(view).toMatchObject({
      state: 'PARTIALLY_REFUNDED',
      paid: 1_000_000,
      refunded: 300_000,
      balance: 300_000,
    });
    await post(refund(`evt_refund2_${counter}`, 1_000_000));
    // Stripe's first report again, under another event id, late: the refunded amount only grows.
    await post(refund(`evt_refund1b_${counter}`, 300_000));
    await post(
      stripeEvent(`evt_dispute_${counter}`, 'charge.dispute.created', 'dispute', {
        id: `dp_${counter}`,
        amount: 1_000_000,
        currency: 'eur',
        charge: `ch_${counter}`,
        payment_intent: intent,
        reason: 'fraudulent',
        status: 'needs_response',
      }),
    );
    view = (await finance.get(`/v1/invoices/${invoice.number}`)).body;
    expect(view).toMatchObject({
      state: 'REFUNDED',
      refunded: 1_000_000,
      balance: 1_000_000,
      disputed: 1_000_000,
    });
    expect(view.payments).toHaveLength(1);
    expect(view.payments[0].refunds.map((r: { refundedSoFar: number }) => r.refundedSoFar)).toEqual([
      300_000, 1_000_000,
    ]);
    expect(view.payments[0].disputes).toMatchObject([{ id: `dp_${counter}`, reason: 'fraudulent' }]);
    const moneyEvents = await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('flow_id', '=', invoice.flow_id)
      .where('type', 'in', ['payment.refunded', 'payment.disputed'])
      .execute();
    expect(moneyEvents.map((event) => event.type).sort()).toEqual([
      'payment.disputed',
      'payment.refunded',
      'payment.refunded',
    ]);
  });

  it('keeps a refund that came before its payment in the inbox, where ops see it waiting, and applies it later', async () => {
    const { handle, invoice, session, metadata } = await waitingInvoice();
    const intent = `pi_refund_first_${counter}`;
    const held = await post(
      stripeEvent(`evt_refund_first_${counter}`, 'charge.refunded', 'charge', {
        id: `ch_first_${counter}`,
        amount_refunded: 250_000,
        refunded: false,
        currency: 'eur',
        payment_intent: intent,
        metadata: {},
      }),
    );
    expect(held).toMatchObject({ processed_at: null, attempts: 1 });
    const gauges = async () => {
      const text = await (await fetch(`${api.url}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      return {
        retrying: value('flowdesk_stripe_inbox_retrying'),
        oldest: value('flowdesk_stripe_inbox_oldest_seconds'),
      };
    };
    const seen = await gauges();
    expect(seen.retrying).toBeGreaterThanOrEqual(1);
    expect(seen.oldest).toBeGreaterThan(0);

    await post(
      paidSession(`evt_paid_later_${counter}`, {
        sessionId: session.id,
        paymentIntent: intent,
        amount: 1_000_000,
        metadata,
      }),
    );
    await handle.result();
    // Its next try (a few seconds on) finds the payment.
    await until(
      () => finance.get(`/v1/invoices/${invoice.number}`),
      (view) => view.body.refunded === 250_000,
      'the refund applied',
    );
    expect((await finance.get(`/v1/invoices/${invoice.number}`)).body).toMatchObject({
      state: 'PARTIALLY_REFUNDED',
      paid: 1_000_000,
    });
  });
});
