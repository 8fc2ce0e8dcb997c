import { setTimeout as sleep } from 'node:timers/promises';
import { call, runDemo, say, secret } from './demo/client.js';
import { startSupplierSimulator } from './simulators/supplier.js';

/**
 * `npm run demo:supplier`, against a running `npm start`: a supplier order from creation to receipt. It runs the
 * supplier simulator in this process, registers it as a `rest` supplier with webhooks, orders two lines, and books
 * the goods in (in two deliveries) once the supplier has shipped, printing each state as the order reaches it.
 */
const WEBHOOK_SECRET = 'demo-supplier-webhook-secret-0123456789';
const CREDENTIALS = 'demo-supplier-credentials';

interface SupplierOrder {
  state: string;
  flowId: string;
  expectedShipAt: string | null;
  flow: { state: string; currentStep: string | null };
  lines: { sku: string; quantity: number; receivedQuantity: number }[];
  history: { type: string }[];
}

async function main() {
  const key = await secret('demo-api-key');
  const simulator = await startSupplierSimulator({
    credentials: CREDENTIALS,
    webhookSecret: WEBHOOK_SECRET,
    schedule: { accepted: 1_000, in_production: 2_500, shipped: 4_000 },
    promiseShipIn: 7 * 24 * 3_600_000,
  });
  say(`supplier simulator on ${simulator.url}`);
  const code = `SIM-${Date.now()}`;
  await call('PUT', `/v1/suppliers/${code}`, key, {
    name: 'Simulated Panels Ltd',
    protocol: 'rest',
    baseUrl: simulator.url,
    credentials: CREDENTIALS,
    webhookSecret: WEBHOOK_SECRET,
    orderEmail: 'orders@panels.example',
    capabilities: { webhooks: true, cancellation: true },
    leadTime: '14 days',
  });
  say(`registered supplier ${code}`);
  const orderId = `PO-${Date.now()}`;
  const lines = [
    { sku: 'PNL-400', description: 'Panel 400 W', quantity: 20 },
    { sku: 'INV-8K', description: 'Inverter 8 kW', quantity: 1 },
  ];
  const { flowId } = await call<{ flowId: string }>('POST', '/v1/supplier-orders', key, {
    orderId,
    supplier: code,
    lines,
    deliverTo: 'Warehouse 1',
  });
  say(`ordered ${orderId}: ${flowId}`);

  let last = '';
  let booked = 0;
  try {
    for (;;) {
      const order = await call<SupplierOrder>('GET', `/v1/supplier-orders/${orderId}`, key);
      const line = `order ${order.state} · flow ${order.flow.state}${order.flow.currentStep ? ` at ${order.flow.currentStep}` : ''}`;
      if (line !== last) {
        say(line + (order.expectedShipAt ? ` (ships by ${order.expectedShipAt.slice(0, 10)})` : ''));
        last = line;
      }
      if (order.flow.state === 'completed') {
        say(`done: ${order.history.map((event) => event.type.replace('supplier.order.', '')).join(' → ')}`);
        return;
      }
      if (['needs_attention', 'failed', 'cancelled'].includes(order.flow.state))
        throw new Error(`the flow is ${order.flow.state}`);
      if (order.state === 'SHIPPED' && booked < 2) {
        booked++;
        const delivery =
          booked === 1
            ? [{ sku: 'PNL-400', quantity: 12 }]
            : [
                { sku: 'PNL-400', quantity: 8 },
                { sku: 'INV-8K', quantity: 1 },
              ];
        await call('POST', `/v1/supplier-orders/${orderId}/receipts`, key, {
          receiptId: `DN-${orderId}-${booked}`,
          lines: delivery,
        });
        say(
          `warehouse booked delivery ${booked}: ${delivery.map((d) => `${d.quantity} × ${d.sku}`).join(', ')}`,
        );
      }
      await sleep(200);
    }
  } finally {
    await simulator.stop();
  }
}

runDemo(main);
