import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { supplierOrderFlowId } from '../domain/supplierOrder.js';
import { startSupplierSimulator } from '../scripts/simulators/supplier.js';
import { baselineSupplierOrder, supplierNews } from './baseline/workflows.js';
import { BASELINE_TASK_QUEUE, PLAIN_TASK_QUEUE, startBenchStack } from './lib/stack.js';
import { compareThroughput } from './lib/throughput.js';

/**
 * Supplier order throughput: N orders placed through the API with a `rest` supplier (the simulator, which
 * accepts, produces and ships each order on a short schedule and reports by signed webhook) and booked in by
 * the warehouse once shipped, at most C in flight, against the plain baseline (the same work in a hand-written
 * workflow without the kernel, through an API of its own; target ≥ 0.9) and a bare workflow of the same shape
 * signalled directly (the server's own limit).
 */
const ORDERS = Number(process.env.BENCH_ORDERS ?? 100);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 20);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SECRET = 'bench-supplier-webhook-secret-0123456789';
const SCHEDULE = { accepted: 50, in_production: 100, shipped: 150 };

const stack = await startBenchStack();
const flowdeskWorker = await stack.startWorker();
const bareWorker = await stack.startWorker({ TEMPORAL_TASK_QUEUE: BASELINE_TASK_QUEUE }, 'baseline-worker');
// The plain side has an API of its own: links in its emails and its supplier's webhooks reach that one.
const plainApi = await stack.startApi({ TEMPORAL_TASK_QUEUE: PLAIN_TASK_QUEUE });
const plainWorker = await stack.startWorker(
  { TEMPORAL_TASK_QUEUE: PLAIN_TASK_QUEUE, PUBLIC_URL: plainApi.url },
  'plain-worker',
);
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

/** One order placed and booked in through the API at `apiUrl`, as staff and the warehouse would. */
const supplierOrderThrough = (apiUrl: string) => async (orderId: string) => {
  const started = await fetch(`${apiUrl}/v1/supplier-orders`, {
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
  const booked = await fetch(`${apiUrl}/v1/supplier-orders/${orderId}/receipts`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      receiptId: `DN-${orderId}`,
      lines: LINES.map(({ sku, quantity }) => ({ sku, quantity })),
    }),
  });
  if (booked.status !== 201) throw new Error(`receipt answered ${booked.status}`);
  await stack.client.workflow.getHandle(supplierOrderFlowId(stack.tenant.slug, orderId)).result();
};

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

const shared = { server: [stack.pids.temporal], postgres: stack.pids.postgres ? [stack.pids.postgres] : [] };
try {
  const markdown = await compareThroughput({
    name: 'supplier-order-throughput',
    unit: 'orders',
    count: ORDERS,
    inFlight: IN_FLIGHT,
    repeats: REPEATS,
    prefix: `PO-${run}`,
    setting: `; the supplier accepts, produces and ships at ${SCHEDULE.accepted} / ${SCHEDULE.in_production} / ${SCHEDULE.shipped} ms`,
    sides: [
      {
        name: 'flowdesk',
        run: supplierOrderThrough(stack.apiUrl),
        pids: { ...shared, api: [stack.pids.api], worker: [flowdeskWorker.pid] },
        describe:
          'API start (order and lines written), POST to the supplier API with an Idempotency-Key, three signed webhooks verified, applied under a row lock and signalled, the receipt booked through the API; every state change published to PostgreSQL with its audit event.',
      },
      {
        name: 'plain',
        run: supplierOrderThrough(plainApi.url),
        pids: { ...shared, api: [plainApi.pid], worker: [plainWorker.pid] },
        describe:
          'the same API, activities, supplier, webhooks and receipt, in a hand-written workflow without the kernel: status in a query plus one flows row update per state change.',
      },
      {
        name: 'bare',
        run: baselineOrder,
        pids: { ...shared, api: [], worker: [bareWorker.pid] },
        describe:
          'one activity that does nothing and the same four outside signals, sent directly on the same schedule.',
      },
    ],
    targets: { plain: 0.9, bare: 0 },
  });
  process.stdout.write(markdown);
} finally {
  await simulator.stop();
  await stack.stop();
}
