import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { createSupplierOrderRecords, switchSupplier } from '../db/supplierOrders.js';
import { resolveStep } from '../domain/flow.js';
import type { SupplierProfile } from '../domain/supplier.js';
import { type SupplierOrderInput, supplierOrderFlowId } from '../domain/supplierOrder.js';
import { signWebhook } from '../integrations/suppliers/protocol.js';
import { createLogger } from '../runtime/logger.js';
import type { SupplierSimulator } from '../scripts/simulators/supplier.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { waitForFlowRow } from './helpers/flows.js';
import { exportedHistory, recordHistories, secretsIn } from './helpers/histories.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import {
  insertWebhookSupplier,
  postSupplierWebhook,
  SUPPLIER_CREDENTIALS,
  SUPPLIER_WEBHOOK_SECRET,
  supplierSimulators,
} from './helpers/suppliers.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const OPS_EMAIL = 'purchasing@example.com';
const FAST_RETRY = {
  maximumAttempts: 2,
  initialInterval: '100 milliseconds',
  maximumInterval: '200 milliseconds',
};

let api: TestApi;
let smtp: SmtpSink;
let worker: TestWorker;
let tenant: TestTenant;
let admin: ReturnType<typeof apiClient>;
let coordinator: ReturnType<typeof apiClient>;
let warehouse: ReturnType<typeof apiClient>;
let taskQueue: string;
let activities: ReturnType<typeof createActivities>;
const simulators = supplierSimulators();
let counter = 0;

beforeAll(async () => {
  smtp = await startSmtpSink();
  taskQueue = `suppliers-${Date.now()}`;
  api = await startTestApi({ env: { TEMPORAL_TASK_QUEUE: taskQueue } });
  const config = testConfig({ SMTP_URL: smtp.url, PUBLIC_URL: api.url, OPS_EMAIL });
  activities = createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') });
  worker = await startTestWorker({ taskQueue, activities });
  tenant = await createTestTenant(api.deps.db);
  admin = apiClient(api.url, await tenant.key(['admin']));
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));
  warehouse = apiClient(api.url, await tenant.key(['warehouse']));
});

afterEach(() => simulators.stopAll());

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await smtp?.stop();
});

function unique(prefix: string) {
  counter++;
  return `${prefix}-${Date.now()}-${counter}`;
}

interface SupplierSetup {
  capabilities?: { webhooks?: boolean; polling?: boolean; cancellation?: boolean };
  pollEvery?: string;
  leadTime?: string;
}

/** Registers a supplier through the admin API: `rest` at the simulator's URL, or `manual` without one. */
async function registerSupplier(simulator: SupplierSimulator | undefined, setup: SupplierSetup = {}) {
  const code = unique('SUP');
  const response = await admin.request('PUT', `/v1/suppliers/${code}`, {
    body: simulator
      ? {
          name: `Supplier ${code}`,
          protocol: 'rest',
          baseUrl: simulator.url,
          credentials: SUPPLIER_CREDENTIALS,
          webhookSecret: SUPPLIER_WEBHOOK_SECRET,
          orderEmail: `orders+${code.toLowerCase()}@supplier.example`,
          capabilities: setup.capabilities ?? { webhooks: true },
          pollEvery: setup.pollEvery ?? '1 hour',
          leadTime: setup.leadTime ?? '1 hour',
        }
      : {
          name: `Supplier ${code}`,
          protocol: 'manual',
          orderEmail: `orders+${code.toLowerCase()}@supplier.example`,
          leadTime: setup.leadTime ?? '1 hour',
        },
  });
  expect(response.status, response.text).toBe(201);
  if (simulator) {
    // Stored sealed: the database holds neither the credentials nor the webhook secret (the simulator's
    // calls below and its signed webhooks only work if the worker and the API open them again).
    const row = await api.deps.db
      .selectFrom('suppliers')
      .select(['credentials', 'webhook_secret'])
      .where('code', '=', code)
      .executeTakeFirstOrThrow();
    for (const [stored, plain] of [
      [row.credentials, SUPPLIER_CREDENTIALS],
      [row.webhook_secret, SUPPLIER_WEBHOOK_SECRET],
    ] as const) {
      expect(stored).toMatch(/^sealed:v1:test-1:/);
      expect(stored).not.toContain(plain);
    }
  }
  return response.body as { supplierId: string; code: string; orderEmail: string };
}

const LINES = [
  { sku: 'PNL-400', description: 'Panel 400 W', quantity: 10 },
  { sku: 'INV-5K', description: 'Inverter 5 kW, "hybrid"', quantity: 1 },
];

async function placeOrder(supplierCode: string) {
  const orderId = unique('PO');
  const response = await coordinator.post('/v1/supplier-orders', {
    orderId,
    supplier: supplierCode,
    lines: LINES,
    deliverTo: 'Warehouse 2, Dock B',
    retry: FAST_RETRY,
  });
  expect(response.status, response.text).toBe(201);
  return { orderId, flowId: response.body.flowId as string };
}

type FlowRow = NonNullable<Parameters<Parameters<typeof waitForFlowRow>[2]>[0]>;

function waitForFlow(flowId: string, predicate: (row: FlowRow) => boolean) {
  return waitForFlowRow(api.deps.db, flowId, (row) => row !== undefined && predicate(row));
}

function order(orderId: string) {
  return api.deps.db
    .selectFrom('supplier_orders')
    .selectAll()
    .where('tenant_id', '=', tenant.tenantId)
    .where('order_key', '=', orderId)
    .executeTakeFirstOrThrow();
}

async function orderEvents(flowId: string) {
  return api.deps.db
    .selectFrom('domain_events')
    .select(['type', 'payload', 'actor'])
    .where('flow_id', '=', flowId)
    .where('type', 'like', 'supplier.order.%')
    .orderBy('recorded_at')
    .execute();
}

function countBy(types: string[]) {
  return types.reduce<Record<string, number>>((counts, type) => {
    counts[type] = (counts[type] ?? 0) + 1;
    return counts;
  }, {});
}

function receive(orderId: string, receiptId: string, lines: { sku: string; quantity: number }[]) {
  return warehouse.post(`/v1/supplier-orders/${orderId}/receipts`, { receiptId, lines });
}

const receiveAll = (orderId: string) =>
  receive(
    orderId,
    `DN-${orderId}`,
    LINES.map(({ sku, quantity }) => ({ sku, quantity })),
  );

const atStep =
  (step: string, state = 'waiting') =>
  (row: FlowRow) =>
    row.current_step === step && row.state === state;

describe('supplierOrder with a rest supplier', () => {
  it('sends by API, follows the webhooks to SHIPPED, books the goods in and completes, each transition once', async () => {
    const simulator = await simulators.start({
      schedule: { accepted: 300, in_production: 600, shipped: 900 },
      promiseShipIn: 3_600_000,
    });
    const supplier = await registerSupplier(simulator, { capabilities: { webhooks: true } });
    const { orderId, flowId } = await placeOrder(supplier.code);

    await waitForFlow(flowId, atStep('awaitReceipt'));
    const shipped = await order(orderId);
    expect({ state: shipped.state, sentVia: shipped.sent_via }).toEqual({ state: 'SHIPPED', sentVia: 'api' });
    expect(shipped.expected_ship_at).not.toBeNull();
    const placed = simulator.requests.filter((r) => r.method === 'POST' && r.path === '/orders');
    expect(placed).toEqual([
      expect.objectContaining({ status: 201, idempotencyKey: `${flowId}/place-order` }),
    ]);
    expect(shipped.supplier_reference).toBe([...simulator.orders.keys()][0]);
    expect(simulator.deliveries.map((d) => d.answer)).toEqual([200, 200, 200]);

    // Shipped goods are never cancelled, whichever route asks: the warehouse books them in.
    const finance = apiClient(api.url, await tenant.key(['finance']));
    for (const [client, path] of [
      [coordinator, `/v1/flows/${encodeURIComponent(flowId)}/cancel`],
      [finance, `/v1/flows/${encodeURIComponent(flowId)}/cancel`],
      [coordinator, `/v1/supplier-orders/${orderId}/cancel`],
    ] as const) {
      const refused = await client.post(path, { reason: 'changed our mind' });
      expect(refused.status, path).toBe(409);
      expect(refused.body.detail).toContain('arrange a return');
    }

    const booked = await receiveAll(orderId);
    expect(booked.status, booked.text).toBe(201);
    expect(booked.body.complete).toBe(true);
    await waitForFlow(flowId, (row) => row.state === 'completed');
    recordHistories({ supplierOrder: flowId });
    expect(secretsIn(exportedHistory(flowId))).toEqual([]);

    const types = (await orderEvents(flowId)).map((e) => e.type);
    expect(countBy(types)).toEqual({
      'supplier.order.sent': 1,
      'supplier.order.accepted': 1,
      'supplier.order.in_production': 1,
      'supplier.order.shipped': 1,
      'supplier.order.goods_received': 1,
      'supplier.order.received': 1,
    });

    const detail = await coordinator.get(`/v1/supplier-orders/${orderId}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      orderId,
      flowId,
      state: 'RECEIVED',
      sentVia: 'api',
      supplier: { code: supplier.code },
      flow: { state: 'completed' },
    });
    expect(detail.body.lines).toEqual(LINES.map((line) => ({ ...line, receivedQuantity: line.quantity })));
    expect(detail.body.history.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['supplier.order.sent', 'supplier.order.received']),
    );
    const listed = await coordinator.get(`/v1/supplier-orders?supplier=${supplier.code}`);
    expect(listed.body.orders.map((o: { orderId: string }) => o.orderId)).toEqual([orderId]);
  });

  it('follows a supplier without webhooks by polling at its period', async () => {
    const simulator = await simulators.start({ schedule: { accepted: 200, shipped: 2_000 } });
    const supplier = await registerSupplier(simulator, {
      capabilities: { polling: true },
      pollEvery: '1 second',
    });
    const { orderId, flowId } = await placeOrder(supplier.code);

    await waitForFlow(flowId, atStep('awaitReceipt'));
    expect((await order(orderId)).state).toBe('SHIPPED');
    expect(simulator.deliveries).toEqual([]);
    const polls = simulator.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/orders/'));
    expect(polls.length).toBeGreaterThanOrEqual(2);

    expect((await receiveAll(orderId)).status).toBe(201);
    await waitForFlow(flowId, (row) => row.state === 'completed');
    const counts = countBy((await orderEvents(flowId)).map((e) => e.type));
    expect(counts).toMatchObject({
      'supplier.order.sent': 1,
      'supplier.order.accepted': 1,
      'supplier.order.shipped': 1,
      'supplier.order.received': 1,
    });
    // The flow stopped asking once the goods had shipped.
    const pollsAfter = simulator.requests.filter((r) => r.method === 'GET').length;
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(simulator.requests.filter((r) => r.method === 'GET').length).toBe(pollsAfter);
  });

  it('emails a CSV export when the supplier API stays down, and goes on once an operator confirms it arrived', async () => {
    const simulator = await simulators.start({ faults: { down: true } });
    const supplier = await registerSupplier(simulator);
    const { orderId, flowId } = await placeOrder(supplier.code);

    const stuck = await waitForFlow(flowId, (row) => row.state === 'needs_attention');
    expect(stuck.current_step).toBe('sendOrder');
    expect(stuck.attention).toMatchObject({ reason: 'confirmation_needed', options: ['fallback', 'retry'] });
    expect(simulator.requests.filter((r) => r.path === '/orders')).toEqual([
      expect.objectContaining({ status: 503 }),
      expect.objectContaining({ status: 503 }),
    ]);
    const email = await smtp.waitFor((m) => m.envelope.to.includes(supplier.orderEmail));
    expect(email.parsed.subject).toContain(orderId);
    const csv = email.parsed.attachments.find((a) => a.filename === `order-${orderId}.csv`);
    expect(csv?.content.toString('utf8')).toBe(
      [
        'order,line,sku,description,quantity',
        `${orderId},1,PNL-400,Panel 400 W,10`,
        `${orderId},2,INV-5K,"Inverter 5 kW, ""hybrid""",1`,
        '',
      ].join('\r\n'),
    );
    expect(email.parsed.attachments.map((a) => a.contentType)).toEqual(['text/csv', 'text/html']);
    expect((await order(orderId)).state).toBe('CREATED');

    const confirmed = await coordinator.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'fallback',
      note: 'Supplier confirmed the order by phone',
    });
    expect(confirmed.status, confirmed.text).toBe(200);
    await waitForFlow(flowId, atStep('awaitAcceptance'));
    const sent = await order(orderId);
    expect({ state: sent.state, sentVia: sent.sent_via }).toEqual({ state: 'SENT', sentVia: 'export' });
    const sentEvent = (await orderEvents(flowId)).find((e) => e.type === 'supplier.order.sent');
    expect(sentEvent?.payload).toMatchObject({
      via: 'export',
      note: 'Supplier confirmed the order by phone',
    });
    expect(sentEvent?.actor).toMatchObject({ type: 'user' });

    expect((await receiveAll(orderId)).status).toBe(201);
    await waitForFlow(flowId, (row) => row.state === 'completed');
    expect(smtp.messages.filter((m) => m.envelope.to.includes(supplier.orderEmail))).toHaveLength(1);
  });

  it('emails the export once more for each resend an operator decides, and never for a plain retry', async () => {
    const supplier = await registerSupplier(undefined);
    const { orderId, flowId } = await placeOrder(supplier.code);
    const flowPath = `/v1/flows/${encodeURIComponent(flowId)}`;
    const exports = () => smtp.messages.filter((m) => m.envelope.to.includes(supplier.orderEmail));
    /** Until the flow asks for a confirmation after the n-th attempt to send the order. */
    const confirmationAsked = async (attempts: number) => {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
        const { body } = await coordinator.get(flowPath);
        const sendOrder = body.steps.find((step: { name: string }) => step.name === 'sendOrder');
        if (body.attention?.reason === 'confirmation_needed' && sendOrder.attempts === attempts) return;
      }
      throw new Error(`the flow did not ask for a confirmation after attempt ${attempts}`);
    };
    const resolve = (decision: Record<string, unknown>) => coordinator.post(`${flowPath}/resolve`, decision);

    await confirmationAsked(1);
    expect(exports()).toHaveLength(1);

    // The supplier says it never got it: the operator resends, and the export goes out once more.
    expect((await resolve({ action: 'retry', input: { resend: true } })).status).toBe(200);
    await confirmationAsked(2);
    expect(exports()).toHaveLength(2);

    // A plain retry sends nothing the supplier has had.
    expect((await resolve({ action: 'retry' })).status).toBe(200);
    await confirmationAsked(3);
    expect(exports()).toHaveLength(2);

    expect((await resolve({ action: 'fallback', note: 'Supplier confirmed by phone' })).status).toBe(200);
    await waitForFlow(flowId, atStep('awaitAcceptance'));
    expect(exports()).toHaveLength(2);
    const exported = (await orderEvents(flowId)).filter((e) => e.type === 'supplier.order.exported');
    expect(exported.map((e) => e.payload.again ?? false)).toEqual([false, true]);
    expect((await order(orderId)).state).toBe('SENT');
    expect((await receiveAll(orderId)).status).toBe(201);
    await waitForFlow(flowId, (row) => row.state === 'completed');
    // A history with operator decisions (resend, retry, fallback) on the step it reruns.
    recordHistories({ 'supplierOrder.decisions': flowId });
  });

  it('ends in the same state when webhooks arrive twice and shuffled, never applying one twice or backwards', async () => {
    const schedule = { accepted: 150, in_production: 300, shipped: 450 };
    const inOrder = await simulators.start({ schedule });
    const stormy = await simulators.start({
      schedule,
      faults: { webhookCopies: 2, shuffleWebhooks: true },
    });
    const calm = await placeOrder((await registerSupplier(inOrder)).code);
    const storm = await placeOrder((await registerSupplier(stormy)).code);

    await waitForFlow(calm.flowId, atStep('awaitReceipt'));
    await waitForFlow(storm.flowId, atStep('awaitReceipt'));
    await stormy.settled();
    expect(stormy.deliveries).toHaveLength(6);
    expect(stormy.deliveries.every((d) => d.answer === 200)).toBe(true);
    expect((await order(storm.orderId)).state).toBe((await order(calm.orderId)).state);

    const events = await orderEvents(storm.flowId);
    const counts = countBy(events.map((e) => e.type));
    expect(Object.values(counts).every((n) => n === 1)).toBe(true);
    expect(counts['supplier.order.shipped']).toBe(1);
    const forward = ['CREATED', 'SENT', 'ACCEPTED', 'IN_PRODUCTION', 'SHIPPED'];
    // recorded_at is each transaction's start, not the order the row lock let them through: the chain is checked
    // by its links, each transition starting where the one before it ended, always forward.
    const chain = [...events].sort(
      (a, b) => forward.indexOf(String(a.payload.to)) - forward.indexOf(String(b.payload.to)),
    );
    let reached = 'CREATED';
    for (const { payload } of chain) {
      expect(payload.from).toBe(reached);
      expect(forward.indexOf(String(payload.to))).toBeGreaterThan(forward.indexOf(reached));
      reached = String(payload.to);
    }
  });

  it('reports a late order, waits for a decision, and goes on with the new date an operator accepts', async () => {
    const simulator = await simulators.start({ schedule: { accepted: 100 }, promiseShipIn: 1_500 });
    const supplier = await registerSupplier(simulator);
    const { orderId, flowId } = await placeOrder(supplier.code);

    const late = await waitForFlow(flowId, (row) => row.state === 'needs_attention');
    expect(late.current_step).toBe('awaitShipment');
    expect(late.attention).toMatchObject({ reason: 'deadline_passed', options: ['extend', 'reorder'] });
    const delayed = (await orderEvents(flowId)).filter((e) => e.type === 'supplier.order.delayed');
    expect(delayed).toHaveLength(1);
    const notice = await smtp.waitFor(
      (m) => m.envelope.to.includes(OPS_EMAIL) && m.parsed.subject?.includes(orderId) === true,
    );
    expect(notice.parsed.subject).toBe(`Supplier order ${orderId} is late`);

    const newDate = new Date(Date.now() + 3_600_000).toISOString();
    const extended = await coordinator.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'extend',
      extendUntil: newDate,
      note: 'Supplier promised a new date by phone',
    });
    expect(extended.status, extended.text).toBe(200);
    await waitForFlow(flowId, atStep('awaitShipment'));
    expect((await order(orderId)).expected_ship_at?.toISOString()).toBe(newDate);
    expect((await orderEvents(flowId)).map((e) => e.type)).toContain('supplier.order.rescheduled');

    await simulator.advance(orderId, 'shipped');
    await waitForFlow(flowId, atStep('awaitReceipt'));
    expect((await receiveAll(orderId)).status).toBe(201);
    await waitForFlow(flowId, (row) => row.state === 'completed');
  });

  it('re-orders a late order from another supplier: withdrawn from the first, placed with the second', async () => {
    const slow = await simulators.start({ schedule: { accepted: 100 }, promiseShipIn: 1_000 });
    const quick = await simulators.start({ schedule: { accepted: 100, shipped: 300 } });
    const first = await registerSupplier(slow, { capabilities: { webhooks: true, cancellation: true } });
    const second = await registerSupplier(quick);
    const { orderId, flowId } = await placeOrder(first.code);
    const late = await waitForFlow(flowId, (row) => row.state === 'needs_attention');
    expect(late.attention).toMatchObject({ reason: 'deadline_passed', options: ['extend', 'reorder'] });

    const bare = await coordinator.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'reorder',
    });
    // The next supplier comes from Flowdesk's records, never from a request body: only the reorder route decides.
    expect(bare.status).toBe(400);
    expect(bare.body.errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining('/v1/supplier-orders/{orderId}/reorder') }),
    ]);
    const same = await coordinator.post(`/v1/supplier-orders/${orderId}/reorder`, {
      supplier: first.code,
      note: 'try again',
    });
    expect(same.status).toBe(409);

    const moved = await coordinator.post(`/v1/supplier-orders/${orderId}/reorder`, {
      supplier: second.code,
      note: 'first supplier cannot deliver before the install date',
    });
    expect(moved.status, moved.text).toBe(200);
    await waitForFlow(flowId, atStep('awaitReceipt'));
    expect(slow.requests.filter((r) => r.path.endsWith('/cancel'))).toEqual([
      expect.objectContaining({ status: 200 }),
    ]);
    expect(quick.requests.filter((r) => r.path === '/orders')).toEqual([
      expect.objectContaining({ status: 201, idempotencyKey: `${flowId}/place-order/r2` }),
    ]);

    // The first supplier's news no longer reaches the order.
    const stale = await postSupplierWebhook(api.url, first.supplierId, {
      id: unique('evt'),
      type: 'order.updated',
      created: new Date().toISOString(),
      data: { id: 'so_first', reference: orderId, status: 'in_production', expectedShipDate: null },
    });
    expect(stale.status).toBe(404);
    const detail = await coordinator.get(`/v1/supplier-orders/${orderId}`);
    expect(detail.body).toMatchObject({ state: 'SHIPPED', supplier: { code: second.code } });

    expect((await receiveAll(orderId)).status).toBe(201);
    await waitForFlow(flowId, (row) => row.state === 'completed');
    const types = (await orderEvents(flowId)).map((e) => e.type);
    expect(countBy(types)).toMatchObject({
      'supplier.order.sent': 2,
      'supplier.order.accepted': 2,
      'supplier.order.delayed': 1,
      'supplier.order.reordered': 1,
      'supplier.order.shipped': 1,
      'supplier.order.received': 1,
    });
    expect(types).not.toContain('supplier.order.cancelled');
  });

  it('never moves an order to another tenant’s supplier, whatever a decision sent past the API names', async () => {
    const slow = await simulators.start({ schedule: { accepted: 100 }, promiseShipIn: 1_000 });
    const first = await registerSupplier(slow, { capabilities: { webhooks: true, cancellation: true } });
    const { orderId, flowId } = await placeOrder(first.code);
    await waitForFlow(flowId, (row) => row.state === 'needs_attention');
    const other = await createTestTenant(api.deps.db);
    const theirs = await insertWebhookSupplier(api.deps.db, other.tenantId, `X${counter}`, 'whsec_other');
    // Sent straight to Temporal, as anyone with namespace access could: an id of another tenant's supplier.
    await worker.client.workflow.getHandle(flowId).executeUpdate(resolveStep, {
      args: [{ actor: { type: 'user', id: 'mallory' }, action: 'reorder', input: { supplierId: theirs } }],
    });
    const refused = await waitForFlow(
      flowId,
      (row) => row.state === 'needs_attention' && row.attention?.reason === 'step_failed',
    );
    expect(refused.attention?.error).toContain('no supplier');
    expect((await order(orderId)).supplier_id).toBe(first.supplierId);
    expect(slow.requests.filter((r) => r.path.endsWith('/cancel'))).toEqual([]);
    expect((await orderEvents(flowId)).map((e) => e.type)).not.toContain('supplier.order.reordered');
    // The database refuses it too, whatever the code above it does.
    await expect(
      switchSupplier(api.deps.db, {
        tenantId: tenant.tenantId,
        orderKey: orderId,
        fromRound: 1,
        toSupplierId: theirs,
        actor: { type: 'user', id: 'mallory' },
        detail: {},
      }),
    ).rejects.toThrow(/no supplier/);
    // The supplier's news must name its own id for the order once it has given one.
    const forged = await postSupplierWebhook(api.url, first.supplierId, {
      id: unique('evt'),
      type: 'order.updated',
      created: new Date().toISOString(),
      data: { id: 'not-their-id', reference: orderId, status: 'shipped', expectedShipDate: null },
    });
    expect(forged.status).toBe(404);
    await worker.client.workflow.getHandle(flowId).cancel();
  });

  it('cancels a late order through the supplier’s cancellation API', async () => {
    const simulator = await simulators.start({ schedule: { accepted: 100 }, promiseShipIn: 1_000 });
    const supplier = await registerSupplier(simulator, {
      capabilities: { webhooks: true, cancellation: true },
    });
    const { orderId, flowId } = await placeOrder(supplier.code);
    await waitForFlow(flowId, (row) => row.state === 'needs_attention');

    const cancel = await coordinator.post(`/v1/supplier-orders/${orderId}/cancel`, {
      reason: 'too late for the install',
    });
    expect(cancel.status, cancel.text).toBe(202);
    await waitForFlow(flowId, (row) => row.state === 'cancelled');
    expect((await order(orderId)).state).toBe('CANCELLED');
    const remote = [...simulator.orders.values()][0];
    expect(remote?.status).toBe('cancelled');
    expect(simulator.requests.filter((r) => r.path.endsWith('/cancel'))).toEqual([
      expect.objectContaining({ method: 'POST', status: 200 }),
    ]);
    const cancelled = (await orderEvents(flowId)).filter((e) => e.type === 'supplier.order.cancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]?.payload).toMatchObject({ via: 'api' });
    expect(
      (await coordinator.post(`/v1/supplier-orders/${orderId}/cancel`, { reason: 'again' })).status,
    ).toBe(409);
  });
  it('emails the cancellation when the supplier’s cancellation API keeps failing', async () => {
    const simulator = await simulators.start({ schedule: { accepted: 100 } });
    const supplier = await registerSupplier(simulator, {
      capabilities: { webhooks: true, cancellation: true },
    });
    const { orderId, flowId } = await placeOrder(supplier.code);
    await waitForFlow(flowId, atStep('awaitShipment'));
    simulator.faults.down = true;

    const cancel = await coordinator.post(`/v1/supplier-orders/${orderId}/cancel`, {
      reason: 'project postponed',
    });
    expect(cancel.status).toBe(202);
    await waitForFlow(flowId, (row) => row.state === 'cancelled');
    expect(simulator.requests.filter((r) => r.path.endsWith('/cancel')).map((r) => r.status)).toEqual([
      503, 503,
    ]);
    const email = await smtp.waitFor(
      (m) => m.envelope.to.includes(supplier.orderEmail) && /Cancellation/.test(m.parsed.subject ?? ''),
    );
    expect(email.parsed.text).toContain('project postponed');
    const cancelled = (await orderEvents(flowId)).filter((e) => e.type === 'supplier.order.cancelled');
    expect(cancelled.map((e) => e.payload.via)).toEqual(['email']);
    expect((await order(orderId)).state).toBe('CANCELLED');
  });
});

describe('supplierOrder with a manual supplier', () => {
  async function sentByHand() {
    const supplier = await registerSupplier(undefined);
    const { orderId, flowId } = await placeOrder(supplier.code);
    await waitForFlow(flowId, (row) => row.state === 'needs_attention');
    await smtp.waitFor((m) => m.envelope.to.includes(supplier.orderEmail));
    const confirmed = await coordinator.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'fallback',
      note: 'Confirmed by reply email',
    });
    expect(confirmed.status, confirmed.text).toBe(200);
    await waitForFlow(flowId, atStep('awaitAcceptance'));
    return { supplier, orderId, flowId };
  }

  it('books partial receipts, refuses more than was ordered, and is RECEIVED only when every line is in', async () => {
    const { orderId, flowId } = await sentByHand();

    const first = await receive(orderId, 'DN-1', [{ sku: 'PNL-400', quantity: 4 }]);
    expect(first.status, first.text).toBe(201);
    expect(first.body).toMatchObject({ duplicate: false, complete: false });
    await waitForFlow(flowId, atStep('awaitReceipt'));
    expect((await order(orderId)).state).toBe('SHIPPED');

    const again = await receive(orderId, 'DN-1', [{ sku: 'PNL-400', quantity: 4 }]);
    expect(again.status).toBe(200);
    expect(again.body.duplicate).toBe(true);

    const tooMany = await receive(orderId, 'DN-2', [
      { sku: 'INV-5K', quantity: 1 },
      { sku: 'PNL-400', quantity: 7 },
    ]);
    expect(tooMany.status).toBe(409);
    expect(tooMany.headers.get('content-type')).toContain('application/problem+json');
    expect(tooMany.body.detail).toContain('PNL-400');
    const unknown = await receive(orderId, 'DN-3', [{ sku: 'NOPE', quantity: 1 }]);
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([expect.objectContaining({ field: 'body.lines.0.sku' })]);

    const lines = await coordinator.get(`/v1/supplier-orders/${orderId}`);
    expect(lines.body.lines.map((l: { receivedQuantity: number }) => l.receivedQuantity)).toEqual([4, 0]);
    expect(lines.body.state).toBe('SHIPPED');

    const rest = await receive(orderId, 'DN-4', [
      { sku: 'PNL-400', quantity: 6 },
      { sku: 'INV-5K', quantity: 1 },
    ]);
    expect(rest.status).toBe(201);
    expect(rest.body.complete).toBe(true);
    await waitForFlow(flowId, (row) => row.state === 'completed');
    const counts = countBy((await orderEvents(flowId)).map((e) => e.type));
    expect(counts).toMatchObject({ 'supplier.order.goods_received': 2, 'supplier.order.received': 1 });
  });

  it('cancels by email when the supplier has no cancellation API', async () => {
    const { supplier, orderId, flowId } = await sentByHand();
    const cancel = await coordinator.post(`/v1/supplier-orders/${orderId}/cancel`, {
      reason: 'customer withdrew',
    });
    expect(cancel.status).toBe(202);
    await waitForFlow(flowId, (row) => row.state === 'cancelled');
    const email = await smtp.waitFor(
      (m) => m.envelope.to.includes(supplier.orderEmail) && /Cancellation/.test(m.parsed.subject ?? ''),
    );
    expect(email.parsed.text).toContain('customer withdrew');
    const cancelled = (await orderEvents(flowId)).filter((e) => e.type === 'supplier.order.cancelled');
    expect(cancelled.map((e) => e.payload.via)).toEqual(['email']);
  });

  it('holds a cancellation whose email was interrupted for a person, instead of failing it, and resends it once', async () => {
    const { supplier, orderId, flowId } = await sentByHand();
    // A worker died inside the cancellation email: the row says `sending`, the supplier may have it or not.
    await api.deps.db
      .insertInto('emails')
      .values({
        tenant_id: tenant.tenantId,
        idempotency_key: `${flowId}/order-cancellation`,
        to_address: supplier.orderEmail,
        subject: `Cancellation of purchase order ${orderId}`,
        template: 'supplier.order-cancellation',
        status: 'sending',
        attempts: 1,
      })
      .execute();
    const cancellations = () =>
      smtp.messages.filter(
        (m) => m.envelope.to.includes(supplier.orderEmail) && /Cancellation/.test(m.parsed.subject ?? ''),
      );

    expect(
      (await coordinator.post(`/v1/supplier-orders/${orderId}/cancel`, { reason: 'site closed' })).status,
    ).toBe(202);
    const held = await waitForFlow(flowId, (row) => row.state === 'needs_attention');
    expect(held.attention).toMatchObject({ reason: 'step_failed', options: ['retry', 'fallback'] });
    expect(String((held.attention as { error: string }).error)).toMatch(/interrupted.*Message-ID/);
    expect(cancellations()).toHaveLength(0);

    const resent = await coordinator.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'retry',
      input: { resend: true },
    });
    expect(resent.status, resent.text).toBe(200);
    await waitForFlow(flowId, (row) => row.state === 'cancelled');
    expect(cancellations()).toHaveLength(1);
    const cancelled = (await orderEvents(flowId)).filter((e) => e.type === 'supplier.order.cancelled');
    expect(cancelled.map((e) => e.payload.via)).toEqual(['email']);
  });
});

describe('supplierOrder as a child flow', () => {
  it('tells its parent when the goods ship and when they are received', async () => {
    const simulator = await simulators.start({ schedule: { accepted: 100, shipped: 300 } });
    const supplier = await registerSupplier(simulator);
    const parentQueue = `${taskQueue}-projects`;
    const projects = await startTestWorker({
      taskQueue: parentQueue,
      activities,
      workflows: { workflowsPath: new URL('./fixtures/projectWorkflows.ts', import.meta.url).pathname },
    });
    try {
      const orderId = unique('PO');
      const flowId = supplierOrderFlowId(tenant.slug, orderId);
      const profile = (await api.deps.db
        .selectFrom('suppliers')
        .select([
          'id as supplierId',
          'code',
          'name',
          'protocol',
          'order_email as orderEmail',
          'capabilities',
          'poll_every as pollEvery',
          'lead_time as leadTime',
        ])
        .where('id', '=', supplier.supplierId)
        .executeTakeFirstOrThrow()) as SupplierProfile;
      await createSupplierOrderRecords(api.deps.db, {
        tenantId: tenant.tenantId,
        orderKey: orderId,
        supplierId: supplier.supplierId,
        flowId,
        lines: LINES,
      });
      const input: SupplierOrderInput = {
        tenantId: tenant.tenantId,
        tenantSlug: tenant.slug,
        orderId,
        supplier: profile,
        lines: LINES,
        retry: { ...FAST_RETRY, attemptTimeout: '1 minute' } as SupplierOrderInput['retry'],
      };
      const parent = await projects.client.workflow.start('projectAwaitingGoods', {
        taskQueue: parentQueue,
        workflowId: unique('project'),
        args: [input],
      });
      await waitForFlow(flowId, atStep('awaitReceipt'));
      expect((await receiveAll(orderId)).status).toBe(201);
      const heard = (await parent.result()) as { news: string; orderId: string }[];
      expect(heard.map((news) => news.news)).toEqual(['shipped', 'received']);
      expect(heard.every((news) => news.orderId === orderId)).toBe(true);
    } finally {
      await projects.stop();
    }
  });
});

describe('supplier order API', () => {
  it('refuses bad input with problem+json naming the field, and writes nothing', async () => {
    const supplier = await registerSupplier(undefined);
    const orderId = unique('PO');
    const cases: [unknown, string][] = [
      [{ orderId, supplier: supplier.code, lines: [] }, 'body.lines'],
      [{ orderId, supplier: supplier.code, lines: [{ ...LINES[0], quantity: 0 }] }, 'body.lines.0.quantity'],
      [{ orderId, supplier: supplier.code, lines: [LINES[0], LINES[0]] }, 'body.lines'],
      [{ orderId: 'bad id!', supplier: supplier.code, lines: LINES }, 'body.orderId'],
      [{ orderId, supplier: 'NOBODY', lines: LINES }, 'body.supplier'],
    ];
    for (const [body, field] of cases) {
      const response = await coordinator.post('/v1/supplier-orders', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const badSupplier = await admin.request('PUT', '/v1/suppliers/NEW-ONE', {
      body: {
        name: 'No URL',
        protocol: 'rest',
        orderEmail: 'x@example.com',
        capabilities: { webhooks: true },
      },
    });
    expect(badSupplier.status).toBe(400);
    expect(badSupplier.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.baseUrl']);
    // A new supplier has no stored secret for an omitted one to keep.
    const unsigned = await admin.request('PUT', '/v1/suppliers/NEW-ONE', {
      body: {
        name: 'No secret',
        protocol: 'rest',
        baseUrl: 'https://supplier.example',
        orderEmail: 'x@example.com',
        capabilities: { webhooks: true },
      },
    });
    expect(unsigned.status).toBe(400);
    expect(unsigned.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.webhookSecret']);
    expect(await coordinator.get('/v1/suppliers/NEW-ONE')).toMatchObject({ status: 404 });
    const written = await api.deps.db
      .selectFrom('supplier_orders')
      .select('id')
      .where('tenant_id', '=', tenant.tenantId)
      .where('order_key', '=', orderId)
      .execute();
    expect(written).toEqual([]);
    expect((await admin.get('/v1/suppliers/NEW-ONE')).status).toBe(404);
    expect((await coordinator.request('PUT', '/v1/suppliers/X', { body: {} })).status).toBe(403);
  });

  it('never returns credentials or secrets', async () => {
    const simulator = await simulators.start();
    const supplier = await registerSupplier(simulator);
    for (const path of [`/v1/suppliers/${supplier.code}`, '/v1/suppliers']) {
      const response = await coordinator.get(path);
      expect(response.status).toBe(200);
      expect(response.text).not.toContain(SUPPLIER_CREDENTIALS);
      expect(response.text).not.toContain(SUPPLIER_WEBHOOK_SECRET);
    }
    expect((await coordinator.get(`/v1/suppliers/${supplier.code}`)).body).toMatchObject({
      hasCredentials: true,
      hasWebhookSecret: true,
      webhookUrl: expect.stringMatching(new RegExp(`/webhooks/suppliers/${supplier.supplierId}$`)),
    });
  });

  it('keeps a supplier’s secrets when a change omits them, and clears one only on an explicit null', async () => {
    const simulator = await simulators.start();
    const supplier = await registerSupplier(simulator);
    const settings = {
      name: 'Renamed supplier',
      protocol: 'rest',
      baseUrl: simulator.url,
      orderEmail: supplier.orderEmail,
      capabilities: { webhooks: true },
    };
    const renamed = await admin.request('PUT', `/v1/suppliers/${supplier.code}`, { body: settings });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body).toMatchObject({
      name: 'Renamed supplier',
      hasCredentials: true,
      hasWebhookSecret: true,
    });
    const stored = await api.deps.db
      .selectFrom('suppliers')
      .select(['credentials', 'webhook_secret'])
      .where('id', '=', supplier.supplierId)
      .executeTakeFirstOrThrow();
    expect({
      credentials: api.deps.secrets.open(stored.credentials ?? ''),
      webhook_secret: api.deps.secrets.open(stored.webhook_secret ?? ''),
    }).toEqual({ credentials: SUPPLIER_CREDENTIALS, webhook_secret: SUPPLIER_WEBHOOK_SECRET });
    const cleared = await admin.request('PUT', `/v1/suppliers/${supplier.code}`, {
      body: { ...settings, credentials: null },
    });
    expect(cleared.body).toMatchObject({ hasCredentials: false, hasWebhookSecret: true });
    // Webhooks are only taken signed: the secret cannot be cleared while they are on.
    const unsigned = await admin.request('PUT', `/v1/suppliers/${supplier.code}`, {
      body: { ...settings, webhookSecret: null },
    });
    expect(unsigned.status).toBe(400);
    expect(unsigned.body.errors).toEqual([expect.objectContaining({ field: 'body.webhookSecret' })]);
  });

  it('refuses forged and stale webhooks with 401 and changes nothing', async () => {
    const simulator = await simulators.start();
    const supplier = await registerSupplier(simulator);
    const { orderId, flowId } = await placeOrder(supplier.code);
    await waitForFlow(flowId, atStep('awaitAcceptance'));
    const event = {
      id: unique('evt'),
      type: 'order.updated',
      created: new Date().toISOString(),
      data: {
        id: (await order(orderId)).supplier_reference ?? '',
        reference: orderId,
        status: 'shipped',
        expectedShipDate: null,
      },
    };
    const body = JSON.stringify(event);
    const forged = await postSupplierWebhook(
      api.url,
      supplier.supplierId,
      event,
      signWebhook('not-the-secret-at-all', body),
    );
    const stale = await postSupplierWebhook(
      api.url,
      supplier.supplierId,
      event,
      signWebhook(SUPPLIER_WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000) - 3600),
    );
    const unsigned = await fetch(`${api.url}/webhooks/suppliers/${supplier.supplierId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect([forged.status, stale.status, unsigned.status]).toEqual([401, 401, 401]);
    expect(((await forged.json()) as { type: string }).type).toBe('urn:flowdesk:problem:invalid-signature');
    expect((await order(orderId)).state).toBe('SENT');
    const receipts = await api.deps.db
      .selectFrom('webhook_receipts')
      .select('id')
      .where('external_id', '=', event.id)
      .execute();
    expect(receipts).toEqual([]);

    const genuine = await postSupplierWebhook(api.url, supplier.supplierId, event);
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toMatchObject({ duplicate: false, applied: true, state: 'SHIPPED' });
    const repeated = await postSupplierWebhook(api.url, supplier.supplierId, event);
    expect(await repeated.json()).toMatchObject({ duplicate: true, applied: false, state: 'SHIPPED' });
    await waitForFlow(flowId, atStep('awaitReceipt'));
  });

  it('keeps one tenant’s orders and suppliers from another: 404', async () => {
    const supplier = await registerSupplier(undefined);
    const { orderId } = await placeOrder(supplier.code);
    const other = await createTestTenant(api.deps.db);
    const stranger = apiClient(api.url, await other.key(['admin']));
    expect((await stranger.get(`/v1/supplier-orders/${orderId}`)).status).toBe(404);
    expect((await stranger.get(`/v1/suppliers/${supplier.code}`)).status).toBe(404);
    expect(
      (await stranger.post(`/v1/supplier-orders/${orderId}/cancel`, { reason: 'not mine' })).status,
    ).toBe(404);
    const receipt = await stranger.post(`/v1/supplier-orders/${orderId}/receipts`, {
      receiptId: 'DN-X',
      lines: [{ sku: 'PNL-400', quantity: 1 }],
    });
    expect(receipt.status).toBe(404);
    expect((await stranger.get('/v1/supplier-orders')).body.orders).toEqual([]);
    expect((await order(orderId)).state).not.toBe('CANCELLED');
  });

  it('starts an order once: the same orderId again starts nothing', async () => {
    const supplier = await registerSupplier(undefined);
    const body = { orderId: unique('PO'), supplier: supplier.code, lines: LINES };
    const [first, second] = await Promise.all([
      coordinator.post('/v1/supplier-orders', body),
      coordinator.post('/v1/supplier-orders', body),
    ]);
    expect([first.status, second.status].sort()).toEqual([200, 201]);
    const lines = await api.deps.db
      .selectFrom('supplier_order_lines')
      .innerJoin('supplier_orders', 'supplier_orders.id', 'supplier_order_lines.order_id')
      .select('sku')
      .where('supplier_orders.order_key', '=', body.orderId)
      .execute();
    expect(lines).toHaveLength(LINES.length);
  });
});
