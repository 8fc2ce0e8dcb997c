import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SupplierSimulator, startSupplierSimulator } from '../../scripts/simulators/supplier.js';
import { apiClient } from '../helpers/api.js';
import { waitForFlowRow } from '../helpers/flows.js';
import { SUPPLIER_CREDENTIALS, SUPPLIER_WEBHOOK_SECRET } from '../helpers/suppliers.js';
import { type Rig, shuffle, startRig } from './rig.js';

const ORDERS = Number(process.env.CHAOS_FLOWS ?? 100);
const COPIES = 3;
const LINES = [
  { sku: 'PNL-400', description: 'Panel 400 W', quantity: 24 },
  { sku: 'RAIL-2M', description: 'Mounting rail 2 m', quantity: 12 },
];
const FORWARD = ['CREATED', 'SENT', 'ACCEPTED', 'IN_PRODUCTION', 'SHIPPED', 'RECEIVED'];

let rig: Rig;
let simulator: SupplierSimulator;

beforeAll(async () => {
  rig = await startRig('supplier-storm');
  simulator = await startSupplierSimulator({
    credentials: SUPPLIER_CREDENTIALS,
    webhookSecret: SUPPLIER_WEBHOOK_SECRET,
    schedule: { accepted: 300, in_production: 700, shipped: 1_100 },
    promiseShipIn: 86_400_000,
    faults: { webhookCopies: COPIES, shuffleWebhooks: true, lagMs: 20 },
  });
});
afterAll(async () => {
  await simulator?.stop();
  await rig?.stop();
});

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

describe('every supplier webhook delivered three times, shuffled and late, and every receipt posted twice', () => {
  it(`moves ${ORDERS} supplier orders forward once each`, async () => {
    await rig.startWorker();
    const admin = apiClient(rig.api.url, await rig.tenant.key(['admin']));
    const staff = apiClient(rig.api.url, await rig.tenant.key(['coordinator', 'warehouse']));
    const code = `STORM-${Date.now()}`;
    const registered = await admin.request('PUT', `/v1/suppliers/${code}`, {
      body: {
        name: 'Storm Supplies',
        protocol: 'rest',
        baseUrl: simulator.url,
        credentials: SUPPLIER_CREDENTIALS,
        webhookSecret: SUPPLIER_WEBHOOK_SECRET,
        orderEmail: 'orders@storm.example',
        capabilities: { webhooks: true },
      },
    });
    expect(registered.status).toBe(201);

    const orderIds = Array.from({ length: ORDERS }, (_, i) => `PO-STORM-${Date.now().toString(36)}-${i}`);
    const flowIds = new Map<string, string>();
    await inBatches(orderIds, 10, async (orderId) => {
      const started = await staff.post('/v1/supplier-orders', { orderId, supplier: code, lines: LINES });
      expect(started.status, started.text).toBe(201);
      flowIds.set(orderId, started.body.flowId);
    });
    await inBatches(orderIds, 20, (orderId) =>
      waitForFlowRow(
        rig.api.deps.db,
        flowIds.get(orderId) ?? '',
        (row) => row?.current_step === 'awaitReceipt',
        300_000,
      ),
    );
    await simulator.settled();

    // The warehouse books each order in two deliveries, and every booking is posted twice, in random order.
    const bookings = shuffle(
      orderIds.flatMap((orderId) =>
        [1, 2].flatMap((delivery) => {
          const lines = LINES.map(({ sku, quantity }) => ({ sku, quantity: quantity / 2 }));
          const booking = { orderId, body: { receiptId: `DN-${orderId}-${delivery}`, lines } };
          return [booking, booking];
        }),
      ),
      rig.random,
    );
    await inBatches(bookings, 20, async ({ orderId, body }) => {
      const answer = await staff.post(`/v1/supplier-orders/${orderId}/receipts`, body);
      expect([200, 201], answer.text).toContain(answer.status);
    });
    await inBatches(orderIds, 20, (orderId) =>
      waitForFlowRow(
        rig.api.deps.db,
        flowIds.get(orderId) ?? '',
        (row) => row?.state === 'completed',
        300_000,
      ),
    );

    const events = await rig.api.deps.db
      .selectFrom('domain_events')
      .select(['entity_id', 'type', 'payload'])
      .where('tenant_id', '=', rig.tenant.tenantId)
      .where('entity_type', '=', 'supplier_order')
      .orderBy('recorded_at')
      .execute();
    const problems: string[] = [];
    for (const orderId of orderIds) {
      const mine = events.filter((event) => event.entity_id === orderId);
      const types = mine.map((event) => event.type);
      for (const type of new Set(types)) {
        const expected = type === 'supplier.order.goods_received' ? 2 : 1;
        if (types.filter((t) => t === type).length !== expected)
          problems.push(`${orderId}: ${type} ×${types.filter((t) => t === type).length}`);
      }
      for (const required of ['sent', 'shipped', 'received']) {
        if (!types.includes(`supplier.order.${required}`)) problems.push(`${orderId}: no ${required}`);
      }
      // recorded_at is each transaction's start, not the order the row lock let them through, so the chain is
      // checked by its links: each transition starts where the one before it ended, always forward.
      const chain = mine
        .filter((e) => 'to' in e.payload)
        .sort((a, b) => FORWARD.indexOf(String(a.payload.to)) - FORWARD.indexOf(String(b.payload.to)));
      let reached = 'CREATED';
      for (const { payload } of chain) {
        if (payload.from !== reached || FORWARD.indexOf(String(payload.to)) <= FORWARD.indexOf(reached))
          problems.push(`${orderId}: ${payload.from} → ${payload.to} after ${reached}`);
        reached = String(payload.to);
      }
    }
    expect(problems).toEqual([]);
    const placed = simulator.requests.filter(
      (r) => r.method === 'POST' && r.path === '/orders' && r.status < 300,
    );
    expect(placed).toHaveLength(ORDERS);
    const lines = await rig.api.deps.db
      .selectFrom('supplier_order_lines')
      .innerJoin('supplier_orders', 'supplier_orders.id', 'supplier_order_lines.order_id')
      .select(['supplier_order_lines.quantity', 'supplier_order_lines.received_quantity'])
      .where('supplier_orders.tenant_id', '=', rig.tenant.tenantId)
      .execute();
    expect(lines.every((line) => line.received_quantity === line.quantity)).toBe(true);
    const ignored =
      simulator.deliveries.length -
      events.filter((e) =>
        ['accepted', 'in_production', 'shipped'].some((s) => e.type === `supplier.order.${s}`),
      ).length;
    rig.log(
      JSON.stringify({
        orders: ORDERS,
        webhookDeliveries: simulator.deliveries.length,
        deliveriesNotApplied: ignored,
        receiptPosts: bookings.length,
        events: events.length,
      }),
    );
  });
});
