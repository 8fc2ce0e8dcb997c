import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { flowStatusQuery } from '../domain/flow.js';
import { createLogger } from '../runtime/logger.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { account, signedIn } from './helpers/console.js';
import {
  checkoutCompletedEvent,
  postStripeWebhook,
  signingLinkFor,
  submitSigningForm,
  waitForFlowRow,
} from './helpers/flows.js';
import { exportedHistory, historyCounts, recordHistories, secretsIn } from './helpers/histories.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const WEBHOOK_SECRET = 'whsec_test_proposals';

let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let worker: TestWorker;
let tenant: TestTenant;
let coordinatorKey: string;
let counter = 0;

beforeAll(async () => {
  [smtp, stripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  const taskQueue = `proposals-${Date.now()}`;
  const env = {
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  api = await startTestApi({ env });
  const config = testConfig({ ...env, SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  worker = await startTestWorker({
    taskQueue,
    activities: createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') }),
  });
  tenant = await createTestTenant(api.deps.db);
  coordinatorKey = await tenant.key(['coordinator']);
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripeMock?.stop()]);
});

function proposal() {
  counter++;
  const proposalId = `P-${Date.now()}-${counter}`;
  return {
    proposal: {
      proposalId,
      title: 'Solar panels and battery',
      currency: 'EUR',
      customer: { name: 'Katherine Johnson', email: `kj+${proposalId.toLowerCase()}@example.com` },
      lines: [
        { description: 'Panel 400 W', quantity: 10, unitPrice: 20_000 },
        { description: 'Battery 10 kWh', quantity: 1, unitPrice: 500_000 },
      ],
    },
    signing: { deadline: '1 hour', remindEvery: '1 hour' },
    payment: { dueIn: '1 hour', dunning: ['1 hour'] },
    retry: { maximumAttempts: 2, initialInterval: '100 milliseconds', maximumInterval: '200 milliseconds' },
  };
}

describe('proposalToPayment through the API', () => {
  it('runs proposal → contract → signature → invoice → Stripe payment → completed, six steps, each event once', async () => {
    const client = apiClient(api.url, coordinatorKey);
    const body = proposal();
    const email = body.proposal.customer.email;
    const started = await client.post('/v1/flows/proposal-to-payment', body);
    expect(started.status).toBe(201);
    const flowId: string = started.body.flowId;
    expect(flowId).toBe(`proposal:${tenant.slug}:${body.proposal.proposalId}`);
    const again = await client.post('/v1/flows/proposal-to-payment', body);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ flowId, created: false });

    const handle = worker.client.workflow.getHandle(flowId);
    const agree = async (expected: { step: string; done: number; state: string }) => {
      const row = await waitForFlowRow(
        api.deps.db,
        flowId,
        (r) =>
          !!r &&
          r.current_step === expected.step &&
          r.state === expected.state &&
          r.progress_done === expected.done,
      );
      // The parent is read from PostgreSQL, where its children write the steps they do for it.
      const status = (await client.get(`/v1/flows/${encodeURIComponent(flowId)}`)).body;
      expect({
        state: status.state,
        step: status.currentStep,
        done: status.progress.done,
        total: status.progress.total,
      }).toEqual({
        state: row.state,
        step: row.current_step,
        done: row.progress_done,
        total: 6,
      });
      expect(status.steps.filter((s: { state: string }) => s.state === 'completed')).toHaveLength(
        expected.done,
      );
    };

    const link = await signingLinkFor(smtp, email);
    await agree({ step: 'contractSigned', done: 3, state: 'waiting' });
    const detail = await client.get(`/v1/flows/${encodeURIComponent(flowId)}`);
    expect(detail.body).toMatchObject({
      waitingFor: 'awaitSignature',
      activeChildren: [`contract:${tenant.slug}:${body.proposal.proposalId}`],
    });

    expect(
      (
        await submitSigningForm(api.deps.db, link, {
          decision: 'sign',
          signerName: 'Katherine Johnson',
          agree: 'yes',
        })
      ).status,
    ).toBe(200);
    const invoiceEmail = await smtp.waitFor(
      (m) => m.envelope.to.includes(email) && /^Invoice INV-/.test(m.parsed.subject ?? ''),
    );
    expect(invoiceEmail.parsed.text).toContain('€7,000.00');
    await agree({ step: 'paymentReceived', done: 5, state: 'waiting' });

    const invoice = await api.deps.db
      .selectFrom('invoices')
      .selectAll()
      .where('invoice_key', '=', body.proposal.proposalId)
      .executeTakeFirstOrThrow();
    const paid = checkoutCompletedEvent(`evt_${body.proposal.proposalId}`, invoice, 700_000);
    expect((await postStripeWebhook(api.url, paid, WEBHOOK_SECRET)).status).toBe(200);
    expect((await postStripeWebhook(api.url, paid, WEBHOOK_SECRET)).status).toBe(200);

    const result = await handle.result();
    expect(result.contract).toMatchObject({ signerName: 'Katherine Johnson', version: 1 });
    expect(result.invoices).toEqual([
      expect.objectContaining({ number: invoice.number, paid: 700_000, overpaid: 0 }),
    ]);
    const done = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'completed');
    const flows = {
      proposalToPayment: flowId,
      contractSigning: `contract:${tenant.slug}:${body.proposal.proposalId}`,
      invoicePayment: `invoice:${tenant.slug}:${body.proposal.proposalId}`,
    };
    recordHistories(flows);
    // Whoever reads these histories in Temporal sees no customer address, email or link in the clear.
    for (const workflowId of Object.values(flows))
      expect(secretsIn(exportedHistory(workflowId)), workflowId).toEqual([]);
    expect(done.progress_done).toBe(6);

    // The kernel publishes at most once per workflow task, and the whole process (parent and children) stays
    // within 20 workflow tasks and 150 history events.
    const histories = await Promise.all(
      [
        flowId,
        `contract:${tenant.slug}:${body.proposal.proposalId}`,
        `invoice:${tenant.slug}:${body.proposal.proposalId}`,
      ].map((id) => historyCounts(worker.client, id)),
    );
    for (const history of histories) expect(Math.max(...history.publicationsPerTask)).toBe(1);
    expect(histories.reduce((sum, h) => sum + h.workflowTasks, 0)).toBeLessThanOrEqual(20);
    expect(histories.reduce((sum, h) => sum + h.events, 0)).toBeLessThanOrEqual(150);

    const events = await client.get(`/v1/flows/${encodeURIComponent(flowId)}/events`);
    const completedSteps = events.body.events
      .filter((e: { type: string }) => e.type === 'flow.step.completed')
      .map((e: { payload: { step: string } }) => e.payload.step);
    expect(completedSteps).toEqual([
      'proposalAccepted',
      'contractGenerated',
      'contractSent',
      'contractSigned',
      'invoiceIssued',
      'paymentReceived',
    ]);
    const types = events.body.events.map((e: { type: string }) => e.type);
    expect(types.filter((t: string) => t === 'proposal.accepted')).toHaveLength(1);
    expect(types.filter((t: string) => t === 'flow.completed')).toHaveLength(1);
    expect(
      await api.deps.db.selectFrom('payments').select('id').where('invoice_id', '=', invoice.id).execute(),
    ).toHaveLength(1);
    expect(
      smtp.messages.filter((m) => m.envelope.to.includes(email)).map((m) => m.parsed.subject?.split(' ')[0]),
    ).toEqual(['Your', 'Invoice', 'Receipt']);

    // The console's page of the proposal shows what it worked on: the contract's version with its SHA-256, the
    // invoice and its payment, read from its children's flows.
    const contract = await api.deps.db
      .selectFrom('documents')
      .select(['sha256', 'entity_id'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('kind', '=', 'contract')
      .where('entity_id', 'like', `%${body.proposal.proposalId}%`)
      .executeTakeFirstOrThrow();
    const { email: staffEmail } = await account(api.url, tenant, ['finance']);
    const page = (
      await (await signedIn(api.url, staffEmail)).go('GET', `/console/flows/${encodeURIComponent(flowId)}`)
    ).text;
    expect(page).toContain(`Contract ${contract.entity_id} — SIGNED`);
    expect(page).toContain(`<code class="hash">${contract.sha256}</code>`);
    expect(page).toContain(`Invoice ${invoice.number} — PAID: €7,000.00, paid €7,000.00`);
    expect(page).toMatch(/€7,000\.00 from stripe, [\d-]+ [\d:]+ \(\s*applied/);
  });

  it('shows a child’s trouble on the parent and sends the operator’s decision to the child', async () => {
    const client = apiClient(api.url, coordinatorKey);
    const body = { ...proposal(), signing: { deadline: '1 second', remindEvery: '1 hour' } };
    const started = await client.post('/v1/flows/proposal-to-payment', body);
    const flowId: string = started.body.flowId;
    const stuck = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
    expect(stuck.attention).toMatchObject({
      step: 'awaitSignature',
      reason: 'deadline_passed',
      flowId: `contract:${tenant.slug}:${body.proposal.proposalId}`,
    });
    const resolved = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'extend',
      extendBy: '1 hour',
    });
    expect(resolved.status).toBe(200);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'waiting');

    const paused = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/pause`, {
      reason: 'checking the roof',
    });
    expect(paused.status).toBe(200);
    const child = await worker.client.workflow
      .getHandle(`contract:${tenant.slug}:${body.proposal.proposalId}`)
      .query(flowStatusQuery);
    expect(child.state).toBe('paused');

    expect((await client.post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`)).status).toBe(202);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'cancelled');
    const envelope = await api.deps.db
      .selectFrom('signature_envelopes')
      .select('status')
      .where('flow_id', '=', `contract:${tenant.slug}:${body.proposal.proposalId}`)
      .executeTakeFirstOrThrow();
    expect(envelope.status).toBe('voided');
  });

  it('shows a child’s trouble on the parent even at a step the parent does not show (the invoice email)', async () => {
    const client = apiClient(api.url, coordinatorKey);
    const body = proposal();
    const email = body.proposal.customer.email;
    const flowId: string = (await client.post('/v1/flows/proposal-to-payment', body)).body.flowId;
    const link = await signingLinkFor(smtp, email);
    smtp.reject();
    try {
      const signed = await submitSigningForm(api.deps.db, link, {
        decision: 'sign',
        signerName: 'Katherine Johnson',
        agree: 'yes',
      });
      expect(signed.status).toBe(200);
      const stuck = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
      expect(stuck.attention).toMatchObject({
        step: 'sendInvoice',
        reason: 'step_failed',
        flowId: `invoice:${tenant.slug}:${body.proposal.proposalId}`,
      });
      const listed = await client.get(
        `/v1/flows?state=needs_attention&type=proposalToPayment&q=${body.proposal.proposalId}`,
      );
      expect(listed.body.flows.map((f: { flowId: string }) => f.flowId)).toEqual([flowId]);
    } finally {
      smtp.accept();
    }
    const retried = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, { action: 'retry' });
    expect(retried.status).toBe(200);
    const waiting = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'waiting');
    expect(waiting).toMatchObject({ current_step: 'paymentReceived', progress_done: 5 });
    await client.post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'cancelled');
  });

  it('rejects an invalid start naming each bad field, and writes nothing', async () => {
    const client = apiClient(api.url, coordinatorKey);
    const before = await api.deps.db
      .selectFrom('flows')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tenant_id', '=', tenant.tenantId)
      .executeTakeFirstOrThrow();
    const bad = await client.post('/v1/flows/proposal-to-payment', {
      proposal: {
        proposalId: 'has spaces',
        title: '',
        currency: 'euro',
        customer: { name: 'X', email: 'not-an-email' },
        lines: [],
      },
      signing: { deadline: 'soon' },
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/problem+json');
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'body.proposal.currency',
      'body.proposal.customer.email',
      'body.proposal.lines',
      'body.proposal.proposalId',
      'body.proposal.title',
      'body.signing.deadline',
    ]);
    const malformed = await client.request('POST', '/v1/flows/proposal-to-payment', {
      body: '{"proposal":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toBe('application/problem+json');
    expect(
      (
        await apiClient(api.url, await tenant.key(['viewer'])).post(
          '/v1/flows/proposal-to-payment',
          proposal(),
        )
      ).status,
    ).toBe(403);
    expect((await apiClient(api.url).post('/v1/flows/proposal-to-payment', proposal())).status).toBe(401);
    const after = await api.deps.db
      .selectFrom('flows')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tenant_id', '=', tenant.tenantId)
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });

  it('bills a recurring agreement once per cycle, each cycle a new run of the same flow, then completes', async () => {
    const client = apiClient(api.url, coordinatorKey);
    const body = { ...proposal(), recurring: { every: '2 seconds', cycles: 2 } };
    const { proposalId } = body.proposal;
    const email = body.proposal.customer.email;
    const flowId: string = (await client.post('/v1/flows/proposal-to-payment', body)).body.flowId;
    const link = await signingLinkFor(smtp, email);
    await submitSigningForm(api.deps.db, link, {
      decision: 'sign',
      signerName: 'Katherine Johnson',
      agree: 'yes',
    });

    const invoiceFor = async (invoiceKey: string) => {
      for (;;) {
        const row = await api.deps.db
          .selectFrom('invoices')
          .selectAll()
          .where('tenant_id', '=', tenant.tenantId)
          .where('invoice_key', '=', invoiceKey)
          .executeTakeFirst();
        if (row?.number) {
          await smtp.waitFor(
            (m) =>
              m.envelope.to.includes(email) &&
              m.parsed.subject === `Invoice ${row.number} from Flowdesk Installations`,
          );
          return row;
        }
        await sleep(100);
      }
    };
    const first = await invoiceFor(`${proposalId}~1`);
    const firstRun = (await worker.client.workflow.getHandle(flowId).describe()).runId;
    await postStripeWebhook(
      api.url,
      checkoutCompletedEvent(`evt_${proposalId}-1`, first, 700_000),
      WEBHOOK_SECRET,
    );

    // The next cycle waits for its billing date in a new run, then invoices again.
    const second = await invoiceFor(`${proposalId}~2`);
    const secondRun = await worker.client.workflow.getHandle(flowId).describe();
    expect(secondRun.runId).not.toBe(firstRun);
    const [year, n] = (first.number ?? '').split('-').slice(1).map(Number);
    expect(second.number).toBe(`INV-${year}-${String((n ?? 0) + 1).padStart(6, '0')}`);
    await postStripeWebhook(
      api.url,
      checkoutCompletedEvent(`evt_${proposalId}-2`, second, 700_000),
      WEBHOOK_SECRET,
    );

    const result = await worker.client.workflow.getHandle(flowId).result();
    expect(result.invoices).toEqual([expect.objectContaining({ number: second.number, paid: 700_000 })]);
    const done = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'completed');
    expect([done.run_id, done.progress_done, done.progress_total]).toEqual([secondRun.runId, 3, 3]);
    const invoices = await api.deps.db
      .selectFrom('invoices')
      .select(['invoice_key', 'state'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('invoice_key', 'like', `${proposalId}~%`)
      .orderBy('invoice_key')
      .execute();
    expect(invoices).toEqual([
      { invoice_key: `${proposalId}~1`, state: 'PAID' },
      { invoice_key: `${proposalId}~2`, state: 'PAID' },
    ]);
    // One contract for the agreement, however many invoices follow.
    expect(
      smtp.messages.filter(
        (m) => m.envelope.to.includes(email) && /ready to sign/.test(m.parsed.subject ?? ''),
      ),
    ).toHaveLength(1);
    const started = await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('flow_id', '=', flowId)
      .where('type', '=', 'flow.completed')
      .execute();
    expect(started).toHaveLength(1);
  });
});
