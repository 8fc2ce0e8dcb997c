import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { supplierOrderFlowId } from '../domain/supplierOrder.js';
import { startSupplierSimulator } from '../scripts/simulators/supplier.js';
import { baselineSupplierOrder, supplierNews } from './baseline/workflows.js';
import { BASELINE_TASK_QUEUE, startBenchStack } from './lib/stack.js';
import { compareThroughput } from './lib/throughput.js';

/**
 * Supplier order throughput: N orders placed through the API with a `rest` supplier (the simulator, which
 * accepts, produces and ships each order on a short schedule and reports by signed webhook) and booked in by
 * the warehouse once shipped, against a bare workflow of the same shape signalled directly. Both with at most C
 * in flight. Target, as for proposals: Flowdesk's orders per second ≥ 0.8 × the baseline's.
 */
const ORDERS = Number(process.env.BENCH_ORDERS ?? 100);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 20);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SECRET = 'bench-supplier-webhook-secret-0123456789';
const SCHEDULE = { accepted: 50, in_production: 100, shipped: 150 };

const stack = await startBenchStack({ worker: true });
await stack.startWorker({ TEMPORAL_TASK_QUEUE: BASELINE_TASK_QUEUE }, 'baseline-worker');
const simulator = await startSupplierSimulator({ webhookSecret: SECRET, schedule: SCHEDULE });
const run = randomBytes(3).toString('hex');
const supplierCode = `BENCH-${run}`;
const headers = { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' };
const registered = await fetch(`${stack.apiUrl}/v1/suppliers/${supplierCode}`, {
  method: 'PUT',
  headers,
  body: JSON.stringify({
    name: 'Bench Supplies',
    protocol: 'rest',
    baseUrl: simulator.url,
    webhookSecret: SECRET,
    orderEmail: 'orders@bench.example',
    capabilities: { webhooks: true },
  }),
});
if (registered.status !== 201) throw new Error(`registering the supplier answered ${registered.status}`);

const LINES = [
  { sku: 'PNL-400', description: 'Panel 400 W', quantity: 20 },
  { sku: 'INV-8K', description: 'Inverter 8 kW', quantity: 1 },
];

async function flowdeskOrder(orderId: string) {
  const started = await fetch(`${stack.apiUrl}/v1/supplier-orders`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ orderId, supplier: supplierCode, lines: LINES }),
  });
  if (started.status !== 201) throw new Error(`start answered ${started.status}`);
  // The warehouse books the goods in once the supplier has shipped them.
  for (;;) {
    const order = await stack.db
      .selectFrom('supplier_orders')
      .select('state')
      .where('tenant_id', '=', stack.tenant.id)
      .where('order_key', '=', orderId)
      .executeTakeFirst();
    if (order?.state === 'SHIPPED') break;
    await sleep(20);
  }
  const booked = await fetch(`${stack.apiUrl}/v1/supplier-orders/${orderId}/receipts`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      receiptId: `DN-${orderId}`,
      lines: LINES.map(({ sku, quantity }) => ({ sku, quantity })),
    }),
  });
  if (booked.status !== 201) throw new Error(`receipt answered ${booked.status}`);
  await stack.client.workflow.getHandle(supplierOrderFlowId(stack.tenant.slug, orderId)).result();
}

/** The same outside world for the baseline: the supplier's three reports on its schedule, then the receipt. */
async function baselineOrder(id: string) {
  const handle = await stack.client.workflow.start(baselineSupplierOrder, {
    taskQueue: BASELINE_TASK_QUEUE,
    workflowId: id,
  });
  const placed = Date.now();
  for (const [news, after] of Object.entries(SCHEDULE)) {
    await sleep(Math.max(0, placed + after - Date.now()));
    await handle.signal(supplierNews, news);
  }
  await handle.signal(supplierNews, 'received');
  await handle.result();
}

try {
  const markdown = await compareThroughput({
    name: 'supplier-order-throughput',
    unit: 'orders',
    count: ORDERS,
    inFlight: IN_FLIGHT,
    repeats: REPEATS,
    prefix: `PO-${run}`,
    flowdesk: flowdeskOrder,
    baseline: baselineOrder,
    describe: {
      setting: `; the supplier accepts, produces and ships at ${SCHEDULE.accepted} / ${SCHEDULE.in_production} / ${SCHEDULE.shipped} ms`,
      flowdesk:
        'API start (order and lines written), POST to the supplier API with an Idempotency-Key, three signed webhooks verified, applied under a row lock and signalled, the receipt booked through the API; every state change published to PostgreSQL.',
      baseline:
        'one activity that does nothing and the same four outside signals, sent directly on the same schedule.',
    },
  });
  process.stdout.write(markdown);
} finally {
  await simulator.stop();
  await stack.stop();
}
