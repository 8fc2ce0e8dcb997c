import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { invoiceActivities } from '../activities/invoices.js';
import { type InvoicePaymentInput, invoiceFlowId } from '../domain/invoice.js';
import { BusinessId } from '../domain/proposal.js';
import { cycleInvoiceKey } from '../domain/proposalToPayment.js';
import { createMailer } from '../integrations/email/mailer.js';
import { createLogger } from '../runtime/logger.js';
import { invoicePayment } from '../workflows/invoicePayment.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { checkoutCompletedEvent, postStripeWebhook, waitForFlowRow } from './helpers/flows.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const WEBHOOK_SECRET = 'whsec_test_flowdesk';
const stripeForSigning = new Stripe('sk_test_123');

let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let worker: TestWorker;
let tenant: TestTenant;
let financeKey: string;
let coordinatorKey: string;
let counter = 0;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  [smtp, stripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  const env = {
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  api = await startTestApi({ env });
  const config = testConfig({ ...env, SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  activities = createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') });
  worker = await startTestWorker({ activities });
  tenant = await createTestTenant(api.deps.db);
  financeKey = await tenant.key(['finance']);
  coordinatorKey = await tenant.key(['coordinator']);
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripeMock?.stop()]);
});

function invoiceInput(overrides: Partial<InvoicePaymentInput> = {}): InvoicePaymentInput {
  counter++;
  const invoiceKey = `I-${Date.now()}-${counter}`;
  return {
    tenantId: tenant.tenantId,
    tenantSlug: tenant.slug,
    invoiceKey,
    title: 'Heat pump installation',
    currency: 'EUR',
    customer: { name: 'Grace Hopper', email: `grace+${invoiceKey.toLowerCase()}@example.com` },
    lines: [
      { description: 'Heat pump', quantity: 1, unitPrice: 900_000 },
      { description: 'Installation', quantity: 2, unitPrice: 50_000 },
    ],
    payment: { dueIn: '1 hour', dunning: ['1 hour'] },
    retry: { maximumAttempts: 2, initialInterval: '100 milliseconds', maximumInterval: '200 milliseconds' },
    ...overrides,
  } as InvoicePaymentInput;
}

async function startInvoice(input: InvoicePaymentInput) {
  const flowId = invoiceFlowId(input.tenantSlug, input.invoiceKey);
  const handle = await worker.client.workflow.start(invoicePayment, {
    taskQueue: worker.taskQueue,
    workflowId: flowId,
    args: [input],
  });
  return { flowId, handle };
}

async function invoiceOf(flowId: string) {
  for (let i = 0; i < 200; i++) {
    const row = await api.deps.db
      .selectFrom('invoices')
      .selectAll()
      .where('flow_id', '=', flowId)
      .executeTakeFirst();
    if (row?.number) return row;
    await sleep(100);
  }
  throw new Error(`no invoice for ${flowId}`);
}

function waitForFlow(flowId: string, state: string) {
  return waitForFlowRow(api.deps.db, flowId, (row) => row?.state === state);
}

const checkoutEvent = (
  id: string,
  type: string,
  invoice: { id: string; flow_id: string; tenant_id: string },
  amount: number,
  session: Record<string, unknown> = {},
) => checkoutCompletedEvent(id, invoice, amount, type, session);

function payLinkIn(text: string | undefined): string {
  const link = /(http:\/\/\S+\/pay\/\S+)/.exec(text ?? '')?.[1];
  if (!link) throw new Error(`no payment link in: ${text}`);
  return link;
}

async function followPayLink(link: string) {
  const res = await fetch(link, { redirect: 'manual' });
  return { status: res.status, location: res.headers.get('location') };
}

function sessionsOf(invoiceId: string) {
  return api.deps.db
    .selectFrom('checkout_sessions')
    .selectAll()
    .where('invoice_id', '=', invoiceId)
    .orderBy('attempt')
    .execute();
}

async function waitForSessions(invoiceId: string, count: number) {
  for (let i = 0; i < 200; i++) {
    const sessions = await sessionsOf(invoiceId);
    if (sessions.length >= count) return sessions;
    await sleep(100);
  }
  throw new Error(`invoice ${invoiceId} never had ${count} checkout sessions`);
}

const postStripe = (payload: string, signature?: string) =>
  postStripeWebhook(api.url, payload, WEBHOOK_SECRET, signature);

async function paymentsOf(invoiceId: string) {
  return api.deps.db.selectFrom('payments').selectAll().where('invoice_id', '=', invoiceId).execute();
}

describe('invoice numbers', () => {
  it('50 invoices issued concurrently in one tenant are numbered 1..50 with no gap and no duplicate', async () => {
    const own = await createTestTenant(api.deps.db);
    const config = testConfig();
    const activities = invoiceActivities({
      db: api.deps.db,
      mailer: createMailer({ outboxDir: config.email.outboxDir }),
      from: 'x@example.com',
      publicUrl: api.url,
      companyName: 'Test',
    });
    const customer = { name: 'Ada Lovelace', email: 'ada@example.com' };
    const issued = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        activities.issueInvoice({
          ...invoiceInput({ tenantId: own.tenantId, invoiceKey: `N-${i}`, customer }),
          flowId: `invoice:${own.slug}:N-${i}`,
          dueInMs: 1_000,
        }),
      ),
    );
    const year = new Date().getUTCFullYear();
    const numbers = issued.map((invoice) => invoice.number).sort();
    expect(numbers).toEqual(
      Array.from({ length: 50 }, (_, i) => `INV-${year}-${String(i + 1).padStart(6, '0')}`),
    );
    // Issuing the same invoice again returns its number; it never takes a new one.
    const again = await activities.issueInvoice({
      ...invoiceInput({ tenantId: own.tenantId, invoiceKey: 'N-7', customer }),
      flowId: `invoice:${own.slug}:N-7`,
      dueInMs: 1_000,
    });
    expect(again.number).toBe(issued[7]?.number);
    // The same key from another flow (another customer's proposal) is refused, never handed that invoice.
    await expect(
      activities.issueInvoice({
        ...invoiceInput({ tenantId: own.tenantId, invoiceKey: 'N-7' }),
        flowId: `invoice:${own.slug}:other`,
        dueInMs: 1_000,
      }),
    ).rejects.toMatchObject({ type: 'InvoiceKeyTaken', nonRetryable: true });
  });

  it('gives a billing cycle an invoice key no proposal id can be', () => {
    expect(BusinessId.safeParse('Q-2').success).toBe(true);
    expect(BusinessId.safeParse(cycleInvoiceKey('Q', 2)).success).toBe(false);
    expect(cycleInvoiceKey('Q', 2)).not.toBe(cycleInvoiceKey('Q-2', 1));
  });
});

describe('invoicePayment', () => {
  it('issues, emails a Stripe payment link, and completes on one signed webhook; repeats and forgeries change nothing', async () => {
    const input = invoiceInput();
    const { flowId, handle } = await startInvoice(input);
    const email = await smtp.waitFor(
      (m) => m.envelope.to.includes(input.customer.email) && /^Invoice INV-/.test(m.parsed.subject ?? ''),
    );
    const invoice = await invoiceOf(flowId);
    expect(email.parsed.text).toContain(invoice.number ?? 'missing');
    expect(email.parsed.text).toContain('€10,000.00');
    const session = await api.deps.db
      .selectFrom('checkout_sessions')
      .selectAll()
      .where('invoice_id', '=', invoice.id)
      .executeTakeFirstOrThrow();
    // The letter's link leads to the open session, however long after the email the customer clicks it.
    const payLink = payLinkIn(email.parsed.text);
    expect(await followPayLink(payLink)).toEqual({ status: 303, location: session.url });
    expect((await followPayLink(payLink.replace(/token=.{4}/, 'token=AAAA'))).status).toBe(403);
    expect(Number(session.amount)).toBe(1_000_000);

    const forged = await postStripe(
      checkoutEvent('evt_forged', 'checkout.session.completed', invoice, 1_000_000),
      't=1,v1=deadbeef',
    );
    expect(forged.status).toBe(400);
    expect(forged.headers.get('content-type')).toBe('application/problem+json');
    const stale = stripeForSigning.webhooks.generateTestHeaderString({
      payload: checkoutEvent('evt_stale', 'checkout.session.completed', invoice, 1_000_000),
      secret: WEBHOOK_SECRET,
      timestamp: Math.floor(Date.now() / 1000) - 3600,
    });
    expect(
      (await postStripe(checkoutEvent('evt_stale', 'checkout.session.completed', invoice, 1_000_000), stale))
        .status,
    ).toBe(400);
    expect(await paymentsOf(invoice.id)).toHaveLength(0);

    const paid = checkoutEvent(
      `evt_${flowId.length}_${counter}`,
      'checkout.session.completed',
      invoice,
      1_000_000,
    );
    const [first, second] = await Promise.all([postStripe(paid), postStripe(paid)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect((await postStripe(paid)).status).toBe(200);
    const result = await handle.result();
    expect(result).toMatchObject({ number: invoice.number, total: 1_000_000, paid: 1_000_000, overpaid: 0 });
    expect(await paymentsOf(invoice.id)).toHaveLength(1);
    const settled = await api.deps.db
      .selectFrom('invoices')
      .select(['state', 'paid'])
      .where('id', '=', invoice.id)
      .executeTakeFirstOrThrow();
    expect(settled).toEqual({ state: 'PAID', paid: '1000000' });
    await waitForFlow(flowId, 'completed');
    await smtp.waitFor(
      (m) => m.envelope.to.includes(input.customer.email) && /^Receipt/.test(m.parsed.subject ?? ''),
    );
  });

  it('takes a partial payment, asks for the balance with a new link, and flags an overpayment of the remainder', async () => {
    const input = invoiceInput();
    const { flowId, handle } = await startInvoice(input);
    const invoice = await invoiceOf(flowId);
    const finance = apiClient(api.url, financeKey);
    const path = `/v1/invoices/${invoice.number}/payments`;

    expect(
      (await apiClient(api.url, coordinatorKey).post(path, { amount: 1, currency: 'EUR', reference: 'x' }))
        .status,
    ).toBe(403);
    const bad = await finance.post(path, { amount: -5, currency: 'euro' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'body.amount',
      'body.currency',
      'body.reference',
    ]);

    const part = await finance.post(path, { amount: 400_000, currency: 'EUR', reference: 'BANK-1' });
    expect(part.status).toBe(201);
    expect(part.body).toMatchObject({ duplicate: false, paid: 400_000, total: 1_000_000 });
    expect(
      (await finance.post(path, { amount: 400_000, currency: 'EUR', reference: 'BANK-1' })).body.duplicate,
    ).toBe(true);
    await smtp.waitFor(
      (m) => m.envelope.to.includes(input.customer.email) && /still open/.test(m.parsed.subject ?? ''),
    );
    const sessions = await api.deps.db
      .selectFrom('checkout_sessions')
      .select(['attempt', 'amount'])
      .where('invoice_id', '=', invoice.id)
      .orderBy('attempt')
      .execute();
    expect(sessions.map((s) => [s.attempt, Number(s.amount)])).toEqual([
      [1, 1_000_000],
      [2, 600_000],
    ]);

    expect((await finance.post(path, { amount: 650_000, currency: 'EUR', reference: 'BANK-2' })).status).toBe(
      201,
    );
    const result = await handle.result();
    expect(result).toMatchObject({ paid: 1_050_000, overpaid: 50_000 });
    const overpaid = await api.deps.db
      .selectFrom('domain_events')
      .selectAll()
      .where('flow_id', '=', flowId)
      .where('type', '=', 'invoice.overpaid')
      .execute();
    expect(overpaid).toHaveLength(1);
    expect(overpaid[0]?.payload).toMatchObject({ overpaid: 50_000 });
    expect(await paymentsOf(invoice.id)).toHaveLength(2);
  });

  it('marks the invoice overdue at the due date, sends the dunning letters on schedule, then escalates', async () => {
    const input = invoiceInput({
      payment: { dueIn: '1 second', dunning: ['1 second', '2 seconds'] },
    } as never);
    const { flowId } = await startInvoice(input);
    const stuck = await waitForFlow(flowId, 'needs_attention');
    expect(stuck.attention).toMatchObject({
      step: 'awaitPayment',
      reason: 'deadline_passed',
      options: ['extend'],
    });
    const reminders = smtp.messages.filter(
      (m) =>
        m.envelope.to.includes(input.customer.email) &&
        /(Overdue|Reminder \d): invoice/.test(m.parsed.subject ?? ''),
    );
    expect(reminders.map((m) => m.parsed.subject?.split(':')[0])).toEqual([
      'Overdue',
      'Reminder 1',
      'Reminder 2',
    ]);
    const events = await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('flow_id', '=', flowId)
      .execute();
    expect(events.filter((e) => e.type === 'invoice.overdue')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'invoice.dunning.sent')).toHaveLength(2);
    const invoice = await invoiceOf(flowId);
    expect(invoice.state).toBe('OVERDUE');
    await apiClient(api.url, coordinatorKey).post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`);
  });

  it('sends the letters that fell due while no worker ran before it escalates, in their order', async () => {
    const input = invoiceInput({ payment: { dueIn: '2 seconds', dunning: ['1 second'] } } as never);
    const { flowId } = await startInvoice(input);
    await waitForFlow(flowId, 'waiting');
    await worker.stop();
    // The due date, the dunning letter's date and the deadline all pass with no worker running.
    await sleep(5_000);
    worker = await startTestWorker({ activities, taskQueue: worker.taskQueue });
    await waitForFlow(flowId, 'needs_attention');
    const letters = smtp.messages.filter(
      (m) =>
        m.envelope.to.includes(input.customer.email) &&
        /(Overdue|Reminder \d): invoice/.test(m.parsed.subject ?? ''),
    );
    expect(letters.map((m) => m.parsed.subject?.split(':')[0])).toEqual(['Overdue', 'Reminder 1']);
    await apiClient(api.url, coordinatorKey).post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`);
  });

  it('cancelled after issuing: the invoice keeps its number and gets a credit note; the payment link is closed', async () => {
    const input = invoiceInput();
    const { flowId, handle } = await startInvoice(input);
    const invoice = await invoiceOf(flowId);
    await waitForFlow(flowId, 'waiting');
    expect(
      (
        await apiClient(api.url, coordinatorKey).post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`, {
          reason: 'customer withdrew',
        })
      ).status,
    ).toBe(202);
    await expect(handle.result()).rejects.toThrow();
    await waitForFlow(flowId, 'cancelled');
    const cancelled = await api.deps.db
      .selectFrom('invoices')
      .selectAll()
      .where('id', '=', invoice.id)
      .executeTakeFirstOrThrow();
    expect(cancelled.state).toBe('CANCELLED');
    expect(cancelled.number).toBe(invoice.number);
    expect(cancelled.credit_note_number).toMatch(/^CN-\d{4}-\d{6}$/);
    // The customer is told, once, with the credit note.
    const notices = smtp.messages.filter(
      (m) => m.envelope.to.includes(input.customer.email) && /is cancelled/.test(m.parsed.subject ?? ''),
    );
    expect(notices.map((m) => m.parsed.subject)).toEqual([
      `Invoice ${invoice.number} is cancelled: credit note ${cancelled.credit_note_number}`,
    ]);
    expect(notices[0]?.parsed.text).toContain('Nothing is due');
    const types = (
      await api.deps.db.selectFrom('domain_events').select('type').where('flow_id', '=', flowId).execute()
    ).map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'invoice.cancelled',
        'invoice.checkout.expired',
        'flow.compensated',
        'flow.cancelled',
      ]),
    );
    const late = await apiClient(api.url, financeKey).post(`/v1/invoices/${invoice.number}/payments`, {
      amount: 100,
      currency: 'EUR',
      reference: 'LATE',
    });
    expect(late.status).toBe(409);
  });

  it('counts a delayed payment once when Stripe’s events arrive out of order and twice over', async () => {
    const input = invoiceInput();
    const { flowId, handle } = await startInvoice(input);
    const invoice = await invoiceOf(flowId);
    const [session] = await waitForSessions(invoice.id, 1);
    const id = `evt_async_${counter}`;
    // A bank debit: the session completes unpaid, the money follows. Here the success comes first.
    const object = { id: session?.id, payment_intent: `pi_${id}` };
    const succeeded = checkoutEvent(
      `${id}_ok`,
      'checkout.session.async_payment_succeeded',
      invoice,
      1_000_000,
      object,
    );
    const completed = checkoutEvent(`${id}_done`, 'checkout.session.completed', invoice, 1_000_000, {
      ...object,
      payment_status: 'unpaid',
    });
    const expired = checkoutEvent(`${id}_late`, 'checkout.session.expired', invoice, 1_000_000, object);
    for (const payload of [succeeded, completed, succeeded, expired, completed]) {
      expect((await postStripe(payload)).status).toBe(200);
    }
    expect(await handle.result()).toMatchObject({ paid: 1_000_000, overpaid: 0 });
    expect(await paymentsOf(invoice.id)).toHaveLength(1);
    // The late expiry of a paid session neither reopens it nor opens another.
    expect((await sessionsOf(invoice.id)).map((s) => [s.attempt, s.status])).toEqual([[1, 'complete']]);
    await waitForFlow(flowId, 'completed');
  });

  it('replaces a Checkout Session Stripe let expire with a new one for the balance, without writing to the customer', async () => {
    const input = invoiceInput();
    const { flowId, handle } = await startInvoice(input);
    const invoice = await invoiceOf(flowId);
    await waitForFlow(flowId, 'waiting');
    const [first] = await waitForSessions(invoice.id, 1);
    const expiry = checkoutEvent(`evt_expired_${counter}`, 'checkout.session.expired', invoice, 1_000_000, {
      id: first?.id,
      payment_status: 'unpaid',
    });
    expect((await postStripe(expiry, 't=1,v1=forged')).status).toBe(400);
    expect((await sessionsOf(invoice.id)).map((s) => s.status)).toEqual(['open']);

    expect((await postStripe(expiry)).status).toBe(200);
    expect((await postStripe(expiry)).status).toBe(200);
    const sessions = await waitForSessions(invoice.id, 2);
    expect(sessions.map((s) => [s.attempt, s.status, Number(s.amount)])).toEqual([
      [1, 'expired', 1_000_000],
      [2, 'open', 1_000_000],
    ]);
    await waitForFlow(flowId, 'waiting');
    await sleep(500);
    expect(await sessionsOf(invoice.id)).toHaveLength(2);
    const letters = smtp.messages.filter((m) => m.envelope.to.includes(input.customer.email));
    expect(letters).toHaveLength(1);
    // The link already sent now leads to the new session.
    const payLink = payLinkIn(letters[0]?.parsed.text);
    expect(await followPayLink(payLink)).toEqual({ status: 303, location: sessions[1]?.url });

    const paid = checkoutEvent(`evt_paid_${counter}`, 'checkout.session.completed', invoice, 1_000_000, {
      id: sessions[1]?.id,
    });
    expect((await postStripe(paid)).status).toBe(200);
    expect(await handle.result()).toMatchObject({ paid: 1_000_000 });
    expect((await followPayLink(payLink)).status).toBe(200);
  });

  it('waits for an operator when the receipt cannot be sent, instead of failing a paid flow', async () => {
    const input = invoiceInput();
    const { flowId, handle } = await startInvoice(input);
    const invoice = await invoiceOf(flowId);
    await waitForFlow(flowId, 'waiting');
    smtp.reject();
    try {
      const paid = checkoutEvent(`evt_receipt_${counter}`, 'checkout.session.completed', invoice, 1_000_000);
      expect((await postStripe(paid)).status).toBe(200);
      const stuck = await waitForFlow(flowId, 'needs_attention');
      expect(stuck.attention).toMatchObject({ step: 'sendReceipt', reason: 'step_failed' });
    } finally {
      smtp.accept();
    }
    const resolved = await apiClient(api.url, coordinatorKey).post(
      `/v1/flows/${encodeURIComponent(flowId)}/resolve`,
      {
        action: 'retry',
      },
    );
    expect(resolved.status).toBe(200);
    expect(await handle.result()).toMatchObject({ paid: 1_000_000 });
    await smtp.waitFor(
      (m) => m.envelope.to.includes(input.customer.email) && /^Receipt/.test(m.parsed.subject ?? ''),
    );
  });

  it('waits for an operator when the balance request cannot be sent, instead of failing the flow', async () => {
    const input = invoiceInput();
    const { flowId, handle } = await startInvoice(input);
    const invoice = await invoiceOf(flowId);
    await waitForFlow(flowId, 'waiting');
    const finance = apiClient(api.url, financeKey);
    const path = `/v1/invoices/${invoice.number}/payments`;
    smtp.reject();
    try {
      expect(
        (await finance.post(path, { amount: 300_000, currency: 'EUR', reference: 'PART-1' })).status,
      ).toBe(201);
      const stuck = await waitForFlow(flowId, 'needs_attention');
      expect(stuck.attention).toMatchObject({
        step: 'awaitPayment',
        reason: 'step_failed',
        options: ['retry', 'fallback'],
      });
    } finally {
      smtp.accept();
    }
    const resolved = await apiClient(api.url, coordinatorKey).post(
      `/v1/flows/${encodeURIComponent(flowId)}/resolve`,
      {
        action: 'retry',
      },
    );
    expect(resolved.status, resolved.text).toBe(200);
    await smtp.waitFor(
      (m) => m.envelope.to.includes(input.customer.email) && /still open/.test(m.parsed.subject ?? ''),
    );
    await waitForFlow(flowId, 'waiting');
    expect((await finance.post(path, { amount: 700_000, currency: 'EUR', reference: 'PART-2' })).status).toBe(
      201,
    );
    expect(await handle.result()).toMatchObject({ paid: 1_000_000, overpaid: 0 });
    const balanceLetters = smtp.messages.filter(
      (m) => m.envelope.to.includes(input.customer.email) && /still open/.test(m.parsed.subject ?? ''),
    );
    expect(balanceLetters).toHaveLength(1);
  });
});
