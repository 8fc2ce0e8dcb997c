import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLegacySimulator } from '../scripts/simulators/legacy.js';
import { apiClient, createTestTenant, startTestApi, type TestApi } from './helpers/api.js';
import { testEnvironment } from './helpers/config.js';
import {
  checkoutCompletedEvent,
  postStripeWebhook,
  signingLinkFor,
  submitSigningForm,
  waitForFlowRow,
} from './helpers/flows.js';
import { projectHelpers, TEST_PROJECT_SETTINGS } from './helpers/projects.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { supplierSimulators } from './helpers/suppliers.js';
import { killProcess, startWorkerProcess } from './helpers/workerProcess.js';

const WEBHOOK_SECRET = 'whsec_test_crash';

let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let env: Record<string, string>;
const workers: ChildProcess[] = [];

async function startWorker(): Promise<ChildProcess> {
  const child = await startWorkerProcess(env);
  workers.push(child);
  return child;
}

beforeAll(async () => {
  [smtp, stripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  const stripe = {
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  const taskQueue = `crash-${Date.now()}`;
  api = await startTestApi({ env: { ...stripe, TEMPORAL_TASK_QUEUE: taskQueue } });
  env = testEnvironment({
    ...stripe,
    TEMPORAL_TASK_QUEUE: taskQueue,
    SMTP_URL: smtp.url,
    PUBLIC_URL: api.url,
  });
});

/** Each test kills the workers it starts, and only those: none of another test may be polling. */
async function killWorkers(): Promise<void> {
  for (const worker of workers.splice(0)) await killProcess(worker);
}

afterAll(async () => {
  await killWorkers();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripeMock?.stop()]);
});

/** A proposal whose steps give up on a dead worker's attempt after 3 s. */
async function startProposal(client: ReturnType<typeof apiClient>, proposalId: string, email: string) {
  const started = await client.post('/v1/flows/proposal-to-payment', {
    proposal: {
      proposalId,
      title: 'Wallbox',
      currency: 'EUR',
      customer: { name: 'Hedy Lamarr', email },
      lines: [{ description: 'Wallbox 11 kW', quantity: 1, unitPrice: 150_000 }],
    },
    signing: { deadline: '1 hour', remindEvery: '1 hour' },
    payment: { dueIn: '1 hour', dunning: ['1 hour'] },
    retry: {
      maximumAttempts: 10,
      initialInterval: '200 milliseconds',
      maximumInterval: '1 second',
      attemptTimeout: '3 seconds',
    },
  });
  expect(started.status).toBe(201);
  return started.body.flowId as string;
}

describe('a worker killed mid-flow', () => {
  it('is replaced and the flow completes, with every email and the payment exactly once', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const client = apiClient(api.url, await tenant.key(['coordinator']));
    const proposalId = `P-crash-${Date.now()}`;
    const email = `crash+${proposalId.toLowerCase()}@example.com`;

    let worker = await startWorker();
    smtp.holdReplies();
    const flowId = await startProposal(client, proposalId, email);

    // Killed inside the signing link's send: the mail server has the message, the worker never heard so.
    const link = await signingLinkFor(smtp, email);
    await killProcess(worker);
    smtp.releaseReplies();
    worker = await startWorker();
    // The retry cannot know whether the customer got it, so it does not send it again: a person decides.
    const stuck = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention', 90_000);
    expect(stuck.attention).toMatchObject({ step: 'sendSigningLink', reason: 'step_failed' });
    expect(stuck.attention?.error).toMatch(/interrupted.*Message-ID <[0-9a-f]{32}@flowdesk>/);
    const resolved = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'fallback',
      note: 'the mail log shows the message delivered',
    });
    expect(resolved.status).toBe(200);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.waiting_for === 'awaitSignature');
    await killProcess(worker);

    // The customer signs while no worker runs; the signal waits in Temporal.
    expect(
      (
        await submitSigningForm(api.deps.db, link, {
          decision: 'sign',
          signerName: 'Hedy Lamarr',
          agree: 'yes',
        })
      ).status,
    ).toBe(200);
    worker = await startWorker();
    // A flow held by a dead worker is handed to another once its sticky queue times out (10 s), parent and child alike.
    await smtp.waitFor(
      (m) => m.envelope.to.includes(email) && /^Invoice INV-/.test(m.parsed.subject ?? ''),
      90_000,
    );
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.waiting_for === 'awaitPayment', 90_000);
    await killProcess(worker);

    const invoice = await api.deps.db
      .selectFrom('invoices')
      .selectAll()
      .where('invoice_key', '=', proposalId)
      .executeTakeFirstOrThrow();
    expect(
      (
        await postStripeWebhook(
          api.url,
          checkoutCompletedEvent(`evt_${proposalId}`, invoice, 150_000),
          WEBHOOK_SECRET,
        )
      ).status,
    ).toBe(200);
    worker = await startWorker();
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'completed', 90_000);

    const subjects = smtp.messages
      .filter((m) => m.envelope.to.includes(email))
      .map((m) => m.parsed.subject?.split(' ')[0]);
    expect(subjects.sort()).toEqual(['Invoice', 'Receipt', 'Your']);
    const sent = await api.deps.db
      .selectFrom('emails')
      .select(['idempotency_key', 'status'])
      .where('tenant_id', '=', tenant.tenantId)
      .execute();
    // The interrupted signing link stays on record as it was left: possibly delivered, confirmed by a person.
    expect(sent.map((e) => e.status).sort()).toEqual(['sending', 'sent', 'sent']);
    expect(
      await api.deps.db.selectFrom('payments').select('id').where('invoice_id', '=', invoice.id).execute(),
    ).toHaveLength(1);
    const numbers = await api.deps.db
      .selectFrom('invoices')
      .select('number')
      .where('tenant_id', '=', tenant.tenantId)
      .execute();
    expect(numbers).toHaveLength(1);
  }, 300_000);

  it('inside a resend of an interrupted email: the customer gets at most one more copy, and a person decides again', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const client = apiClient(api.url, await tenant.key(['coordinator']));
    const proposalId = `P-resend-${Date.now()}`;
    const email = `resend+${proposalId.toLowerCase()}@example.com`;
    const copies = () =>
      smtp.messages.filter(
        (m) => m.envelope.to.includes(email) && /ready to sign/.test(m.parsed.subject ?? ''),
      );
    const flowPath = (flowId: string) => `/v1/flows/${encodeURIComponent(flowId)}`;

    await killWorkers();
    let worker = await startWorker();
    smtp.holdReplies();
    const flowId = await startProposal(client, proposalId, email);
    await signingLinkFor(smtp, email);
    await killProcess(worker);
    smtp.releaseReplies();
    worker = await startWorker();
    const first = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention', 90_000);
    expect(first.attention?.error).toMatch(/interrupted/);

    // The operator resends; the worker dies inside that send too, after the server took the message.
    smtp.holdReplies();
    const resent = await client.post(`${flowPath(flowId)}/resolve`, {
      action: 'retry',
      input: { resend: true },
    });
    expect(resent.status).toBe(200);
    await smtp.waitFor(() => copies().length === 2, 60_000);
    await killProcess(worker);
    smtp.releaseReplies();
    worker = await startWorker();

    // The retry of the resend carries the used decision: it does not send, it asks again.
    const again = await waitForFlowRow(
      api.deps.db,
      flowId,
      (r) =>
        r?.state === 'needs_attention' && /resend decided earlier was used/.test(String(r.attention?.error)),
      90_000,
    );
    expect(again.attention).toMatchObject({ step: 'sendSigningLink', reason: 'step_failed' });
    expect(copies()).toHaveLength(2);

    const confirmed = await client.post(`${flowPath(flowId)}/resolve`, {
      action: 'fallback',
      note: 'the mail log shows the resend delivered',
    });
    expect(confirmed.status).toBe(200);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.waiting_for === 'awaitSignature');
    expect(copies()).toHaveLength(2);
    const decisions = await api.deps.db
      .selectFrom('domain_events')
      .select('payload')
      .where('tenant_id', '=', tenant.tenantId)
      .where('type', '=', 'flow.attention.resolved')
      .orderBy('recorded_at')
      .execute();
    expect(decisions.map((d) => d.payload.action)).toEqual(['retry', 'fallback']);
  }, 300_000);
});

describe('a worker killed while a project places its orders', () => {
  it('places one order per producer, and the project goes on on a new worker', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const clients = {
      admin: apiClient(api.url, await tenant.key(['admin'])),
      coordinator: apiClient(api.url, await tenant.key(['coordinator'])),
      warehouse: apiClient(api.url, await tenant.key(['warehouse'])),
    };
    const simulators = supplierSimulators();
    const projects = projectHelpers(() => ({
      api,
      smtp,
      tenant,
      ...clients,
      simulators,
      stripeWebhookSecret: WEBHOOK_SECRET,
    }));
    try {
      // A dead worker's attempt is given up after 3 s.
      await projects.setUpTenant('crew@crash.example', {
        ...TEST_PROJECT_SETTINGS,
        retry: { ...TEST_PROJECT_SETTINGS.retry, maximumAttempts: 10, attemptTimeout: '3 seconds' },
      });
      const { skus, panels, inverters } = await projects.twoProducers(
        { schedule: { accepted: 100 } },
        { schedule: { accepted: 100 } },
      );
      const first = await startWorker();
      const { lead, flowId, customerPage } = await projects.toConfigurator();
      expect(
        (
          await customerPage.draft([
            { sku: skus.panels, quantity: 20 },
            { sku: skus.inverters, quantity: 1 },
          ])
        ).status,
      ).toBe(200);
      expect((await customerPage.lock()).status).toBe(200);
      // Killed the moment the first order is on record: the others may or may not be, their flows not started.
      for (let tries = 0; tries < 2_000; tries++) {
        const placed = await api.deps.db
          .selectFrom('supplier_orders')
          .select('id')
          .where('tenant_id', '=', tenant.tenantId)
          .where('order_key', 'like', `${lead.leadId}.%`)
          .execute();
        if (placed.length > 0) break;
        await sleep(5);
      }
      await killProcess(first);
      await startWorker();

      const orders = await projects.waitForOrders(lead.leadId, 2);
      for (const order of orders)
        await waitForFlowRow(api.deps.db, order.flow_id, (r) => r?.current_step === 'awaitShipment', 60_000);
      await sleep(500);
      const all = await api.deps.db
        .selectFrom('supplier_orders')
        .select('order_key')
        .where('tenant_id', '=', tenant.tenantId)
        .where('order_key', 'like', `${lead.leadId}.%`)
        .execute();
      expect(all).toHaveLength(2);
      expect([panels.simulator.orders.size, inverters.simulator.orders.size]).toEqual([1, 1]);
      expect((await projects.chain(flowId)).filter((type) => type === 'supplier.order.created')).toHaveLength(
        2,
      );
      await projects.cancelFlow(flowId);
    } finally {
      await killWorkers();
      await simulators.stopAll();
    }
  }, 120_000);
});

describe('a worker killed while an automation step registers a device', () => {
  it('registers the device once, and a new worker completes the step', async () => {
    const legacy = await startLegacySimulator({ faults: { lagMs: 1_500 } });
    const tenant = await createTestTenant(api.deps.db);
    const admin = apiClient(api.url, await tenant.key(['admin']));
    const coordinator = apiClient(api.url, await tenant.key(['coordinator']));
    const legacyEnv = { ...env, LEGACY_URL: legacy.url };
    const scenario = 'sensor_crash_test';
    try {
      // A dead worker's attempt is given up after 3 s.
      const configured = await admin.request('PUT', `/v1/automation-scenarios/${scenario}`, {
        body: {
          operations: ['registerDevice', 'assignToAsset', 'updateMirror'],
          maxAttempts: 5,
          retryDelaySeconds: 1,
          timeoutSeconds: 3,
          fallbackDescription: 'Register it by hand.',
        },
      });
      expect(configured.status, configured.text).toBe(200);
      const first = await startWorkerProcess(legacyEnv);
      workers.push(first);
      const serial = `SN-CRASH-${Date.now()}`;
      const started = await coordinator.post('/v1/automation-steps', {
        shipmentItemId: `ITEM-${Date.now()}`,
        scenario,
        device: { serial, model: 'TempSense 3', companyId: 'ACME', assetId: 'ASSET-1' },
      });
      expect(started.status, started.text).toBe(201);
      // Killed while the legacy system is still answering the registration.
      for (let tries = 0; tries < 1_000 && !legacy.calls.some((call) => call.path === '/devices'); tries++)
        await sleep(10);
      await killProcess(first);
      legacy.faults.lagMs = 0;
      workers.push(await startWorkerProcess(legacyEnv));
      for (let tries = 0; ; tries++) {
        const step = (await coordinator.get(`/v1/automation-steps/${started.body.stepId}`)).body;
        if (step.state === 'completed') break;
        if (tries > 600) throw new Error(`the step did not complete: ${JSON.stringify(step)}`);
        await sleep(100);
      }
      expect([...legacy.devices.values()].filter((device) => device.serial === serial)).toHaveLength(1);
      expect(legacy.calls.filter((call) => call.path === '/devices').length).toBeGreaterThanOrEqual(2);
    } finally {
      await killWorkers();
      await legacy.stop();
    }
  }, 120_000);
});
