import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { type InvoicePaymentInput, invoiceFlowId } from '../domain/invoice.js';
import { createLogger } from '../runtime/logger.js';
import { invoicePayment } from '../workflows/invoicePayment.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { waitForFlowRow } from './helpers/flows.js';
import { recordHistories } from './helpers/histories.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

/** Stripe as the worker reaches it: forwarded to stripe-mock while up, a 503 from Stripe's edge while down. */
async function startStripeOutage(target: string) {
  const state = { up: true, requests: 0 };
  const server: Server = createServer((incoming, outgoing) => {
    state.requests++;
    if (!state.up) {
      outgoing.writeHead(503, { 'content-type': 'application/json', 'stripe-should-retry': 'false' });
      outgoing.end(
        JSON.stringify({ error: { type: 'api_error', message: 'Stripe is unavailable (outage)' } }),
      );
      return;
    }
    const url = new URL(incoming.url ?? '/', target);
    const forwarded = request(url, { method: incoming.method, headers: incoming.headers }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
    });
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let stripe: Awaited<ReturnType<typeof startStripeOutage>>;
let worker: TestWorker;
let tenant: TestTenant;
let finance: ReturnType<typeof apiClient>;
let counter = 0;

beforeAll(async () => {
  [smtp, stripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  stripe = await startStripeOutage(stripeMock.url);
  const env = { STRIPE_SECRET_KEY: 'sk_test_123', STRIPE_API_URL: stripe.url, DECISION_WAIT_SECONDS: '5' };
  api = await startTestApi({ env });
  const config = testConfig({ ...env, SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  const activities = createActivities({
    config,
    db: api.deps.db,
    logger: createLogger(config, 'worker-test'),
  });
  worker = await startTestWorker({ activities });
  tenant = await createTestTenant(api.deps.db);
  finance = apiClient(api.url, await tenant.key(['finance']));
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripe?.stop(), stripeMock?.stop()]);
});

async function startInvoice(retry: InvoicePaymentInput['retry']) {
  counter++;
  const invoiceKey = `R-${Date.now()}-${counter}`;
  const input = {
    tenantId: tenant.tenantId,
    tenantSlug: tenant.slug,
    invoiceKey,
    title: 'Battery storage',
    currency: 'EUR',
    customer: { name: 'Hedy Lamarr', email: `hedy+${invoiceKey.toLowerCase()}@example.com` },
    lines: [{ description: 'Battery 10 kWh', quantity: 1, unitPrice: 600_000 }],
    payment: { dueIn: '1 hour', dunning: ['1 hour'] },
    retry,
  } as InvoicePaymentInput;
  const flowId = invoiceFlowId(tenant.slug, invoiceKey);
  await worker.client.workflow.start(invoicePayment, {
    taskQueue: worker.taskQueue,
    workflowId: flowId,
    args: [input],
  });
  return flowId;
}

const path = (flowId: string, action = '') => `/v1/flows/${encodeURIComponent(flowId)}${action}`;
const events = (flowId: string, type: string) =>
  api.deps.db
    .selectFrom('domain_events')
    .select(['payload'])
    .where('flow_id', '=', flowId)
    .where('type', '=', type)
    .orderBy('recorded_at')
    .execute();

describe('kernel-owned retries', () => {
  it('show a failing step as retrying with attempt, error and next attempt; pause stops the attempts, retry now runs one', async () => {
    stripe.state.up = false;
    const flowId = await startInvoice({
      maximumAttempts: 10,
      initialInterval: '3 seconds',
      maximumInterval: '3 seconds',
    } as InvoicePaymentInput['retry']);

    const retrying = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'retrying');
    expect(retrying.current_step).toBe('createCheckoutSession');
    expect(retrying.attention).toMatchObject({
      step: 'createCheckoutSession',
      reason: 'retrying',
      attempt: 1,
      error: expect.stringContaining('Stripe is unavailable'),
      options: ['retry'],
      nextAttemptAt: expect.any(String),
    });
    const listed = await finance.get(`/v1/flows?state=retrying&q=${encodeURIComponent(flowId)}`);
    expect(listed.body.flows.map((f: { flowId: string }) => f.flowId)).toEqual([flowId]);
    const detail = await finance.get(path(flowId));
    expect(detail.body.steps.find((s: { name: string }) => s.name === 'createCheckoutSession')).toMatchObject(
      {
        state: 'retrying',
        lastError: expect.stringContaining('Stripe is unavailable'),
        nextAttemptAt: retrying.attention && (retrying.attention as { nextAttemptAt: string }).nextAttemptAt,
      },
    );

    // Paused, no attempt runs though the next one falls due.
    expect((await finance.post(path(flowId, '/pause'), { reason: 'Stripe incident' })).body.state).toBe(
      'paused',
    );
    const requestsWhenPaused = stripe.state.requests;
    await sleep(4_500);
    expect(stripe.state.requests).toBe(requestsWhenPaused);
    expect((await finance.post(path(flowId, '/resume'))).status).toBe(200);
    await expect
      .poll(async () => (await events(flowId, 'flow.step.attempt_failed')).length, { timeout: 10_000 })
      .toBe(2);

    // Stripe is back; retry now does not wait for the schedule.
    stripe.state.up = true;
    const decided = await finance.post(path(flowId, '/resolve'), {
      action: 'retry',
      note: 'Stripe recovered',
    });
    expect(decided.status).toBe(200);
    const waiting = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'waiting', 2_500);
    expect(waiting.current_step).toBe('awaitPayment');
    const failures = await events(flowId, 'flow.step.attempt_failed');
    expect(failures.map((e) => e.payload.attempt)).toEqual([1, 2]);
    // Waiting for the payment is far enough: the replay covers the retries, the pause and the decision.
    await worker.client.workflow.getHandle(flowId).cancel();
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'cancelled');
    recordHistories({ 'invoicePayment.retries': flowId });
  });

  it('need attention when the schedule runs out', async () => {
    stripe.state.up = false;
    try {
      const flowId = await startInvoice({
        maximumAttempts: 2,
        initialInterval: '100 milliseconds',
        maximumInterval: '100 milliseconds',
      } as InvoicePaymentInput['retry']);
      const row = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
      expect(row.attention).toMatchObject({
        step: 'createCheckoutSession',
        reason: 'step_failed',
        options: ['retry'],
      });
      expect(await events(flowId, 'flow.step.attempt_failed')).toHaveLength(1);
    } finally {
      stripe.state.up = true;
    }
  });

  it('check a decision against its flow type before sending it: bad input is a 400 naming the field, and the flow is unchanged', async () => {
    stripe.state.up = false;
    let flowId = '';
    try {
      flowId = await startInvoice({
        maximumAttempts: 2,
        initialInterval: '100 milliseconds',
        maximumInterval: '100 milliseconds',
      } as InvoicePaymentInput['retry']);
      await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
    } finally {
      stripe.state.up = true;
    }
    const before = await api.deps.db
      .selectFrom('flows')
      .selectAll()
      .where('id', '=', flowId)
      .executeTakeFirstOrThrow();
    const eventCount = async () =>
      (await api.deps.db.selectFrom('domain_events').select('id').where('flow_id', '=', flowId).execute())
        .length;
    const eventsBefore = await eventCount();

    for (const [body, field] of [
      [{ action: 'retry', input: { resend: 'yes' } }, 'body.input.resend'],
      [{ action: 'retry', input: { resnd: true } }, 'body.input.resnd'],
      [{ action: 'resend' }, 'body.action'],
      [{ action: 'reorder' }, 'body.action'],
      [{ action: 'teleport' }, 'body.action'],
    ] as const) {
      const answer = await finance.post(path(flowId, '/resolve'), body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.headers.get('content-type')).toContain('application/problem+json');
      expect(answer.body.errors.map((e: { field: string }) => e.field)).toEqual([field]);
    }
    const after = await api.deps.db
      .selectFrom('flows')
      .selectAll()
      .where('id', '=', flowId)
      .executeTakeFirstOrThrow();
    expect(after.version).toBe(before.version);
    expect(after.state).toBe('needs_attention');
    expect(await eventCount()).toBe(eventsBefore);

    // The same decision, well formed, is taken.
    const taken = await finance.post(path(flowId, '/resolve'), { action: 'retry', input: { resend: false } });
    expect(taken.status).toBe(200);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'waiting');
  });
});
