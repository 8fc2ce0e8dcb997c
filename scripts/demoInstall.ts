import { setTimeout as sleep } from 'node:timers/promises';
import {
  call,
  config,
  issuedInvoice,
  linkFromOutbox,
  payByStripe,
  runDemo,
  say,
  secret,
  signAsCustomer,
} from './demo/client.js';
import { startSupplierSimulator } from './simulators/supplier.js';

/**
 * `npm run demo:install`, against a running `npm start`: a whole project, from an architect's lead to the closed
 * project. It sets the demo tenant up (project settings with demo durations, a catalogue from two producers
 * running on the supplier simulator in this process, a crew, an architect), then plays every part: the architect
 * brings the lead, a coordinator converts it, the customer signs, pays the advance, chooses panels on the
 * configurator (opened, edited with autosave, locked), the producers ship and the warehouse books the goods in,
 * the crew installs, the customer pays the final invoice. It prints each step and the Temporal UI link.
 */
const WEBHOOK_SECRET = 'demo-producer-webhook-secret-0123456789';
const CREDENTIALS = 'demo-producer-credentials';

interface Status {
  state: string;
  currentStep: string | null;
  waitingFor: string | null;
  attention: { reason: string; error?: string } | null;
  progress: { done: number; total: number };
  temporalUiUrl: string;
}

/** Demo durations: the installation is announced at once, the crew comes when the goods are in. */
const SETTINGS = {
  qualification: { servicePostcodes: ['10', '12', '13'], requiredFields: ['phone'] },
  followUpAfter: '7 days',
  advance: { percent: 30, after: 'contract_signed' },
  configurator: { linkValidFor: '3 days', remindEvery: '2 days', deadline: '21 days' },
  deliveryMargin: '1 second',
  dueSoonBefore: '30 days',
  signing: { deadline: '14 days', remindEvery: '3 days' },
  payment: { dueIn: '14 days', dunning: ['3 days'] },
};

async function main() {
  if (config.email.smtpUrl) throw new Error('the demo reads emails from the outbox folder; unset SMTP_URL');
  const admin = await secret('demo-api-key');
  const webhookSecret = config.stripe.webhookSecret ?? (await secret('stripe-webhook-secret'));
  const me = await call<{ tenantId: string }>('GET', '/v1/me', admin);
  const run = Date.now();

  await call('PUT', '/v1/settings/projects', admin, SETTINGS);
  const producers = await Promise.all(
    ['Panels', 'Inverters'].map(async (kind) => {
      const simulator = await startSupplierSimulator({
        credentials: CREDENTIALS,
        webhookSecret: WEBHOOK_SECRET,
        schedule: { accepted: 500, in_production: 1_000, shipped: 1_500 },
      });
      const code = `${kind.toUpperCase()}-${run}`;
      await call('PUT', `/v1/suppliers/${code}`, admin, {
        name: `${kind} Producer Ltd`,
        protocol: 'rest',
        baseUrl: simulator.url,
        credentials: CREDENTIALS,
        webhookSecret: WEBHOOK_SECRET,
        orderEmail: `orders@${kind.toLowerCase()}.example`,
        capabilities: { webhooks: true, cancellation: true },
        leadTime: '1 minute',
      });
      return { code, simulator };
    }),
  );
  const [panels, inverters] = producers.map((producer) => producer.code);
  const catalogue = [
    {
      sku: `PNL-430-${run}`,
      kind: 'panel',
      name: 'Panel 430 W',
      supplier: panels,
      unitPrice: 19_000,
      packOf: 2,
    },
    {
      sku: `INV-8K-${run}`,
      kind: 'inverter',
      name: 'Hybrid inverter 8 kW',
      supplier: inverters,
      unitPrice: 160_000,
    },
    { sku: `MNT-${run}`, kind: 'accessory', name: 'Roof mounting kit', supplier: panels, unitPrice: 4_500 },
  ];
  for (const item of catalogue)
    await call('PUT', `/v1/catalogue/${item.sku}`, admin, { ...item, currency: 'EUR', leadTimeDays: 14 });
  const crew = await call<{ crewId: string }>('POST', '/v1/crews', admin, {
    name: 'North crew',
    email: 'north.crew@installers.example',
    jobsPerDay: 2,
    weeklyCapacity: 8,
  });
  const architect = await call<{ architectId: string }>('POST', '/v1/architects', admin, {
    name: 'Lina Bo Bardi',
    email: 'lina@architects.example',
  });
  const keyFor = async (name: string, roles: string[], subject: Record<string, string>) =>
    (await call<{ key: string }>('POST', '/v1/api-keys', admin, { name, roles, ...subject })).key;
  const architectKey = await keyFor(`Architect ${run}`, ['architect'], {
    architectId: architect.architectId,
  });
  const crewKey = await keyFor(`North crew tablet ${run}`, ['installer'], { crewId: crew.crewId });
  say(
    `set up: settings, ${catalogue.length} catalogue items from 2 producers (simulated), a crew, an architect`,
  );

  const leadId = `LEAD-${run}`;
  const email = `grace+${leadId.toLowerCase()}@example.com`;
  const { flowId } = await call<{ flowId: string }>('POST', '/v1/leads', architectKey, {
    leadId,
    source: 'architect',
    customer: { name: 'Grace Hopper', email, phone: '+49 30 5550100' },
    site: { street: 'Gartenstr. 12', postcode: '10115', city: 'Berlin', country: 'DE' },
    systemSizeKwp: 9,
    notes: 'South-facing roof, 35°.',
  });
  say(`the architect registered lead ${leadId}: ${flowId}`);
  const route = `/v1/flows/${encodeURIComponent(flowId)}`;
  const done = new Set<string>();
  const once = async (what: string, action: () => Promise<void>) => {
    if (done.has(what)) return;
    done.add(what);
    await action();
  };
  const payInvoice = async (kind: 'advance' | 'final') => {
    const invoice = await issuedInvoice(admin, `invoice:demo:${leadId}~${kind}`);
    const answer = await payByStripe(
      { ...invoice, tenantId: me.tenantId, flowId, key: `${leadId}-${kind}` },
      webhookSecret,
    );
    say(`Stripe reported the ${kind} invoice ${invoice.number} paid (signed webhook): ${answer}`);
  };

  let last = '';
  for (;;) {
    const status = await call<Status>('GET', route, admin);
    const line = `step ${status.progress.done} of ${status.progress.total}: ${status.state}${status.currentStep ? ` at ${status.currentStep}` : ''}`;
    if (line !== last) {
      say(line);
      last = line;
    }
    if (status.state === 'completed') {
      say(`done: project ${leadId} is closed. Temporal UI: ${status.temporalUiUrl}`);
      break;
    }
    if (['needs_attention', 'failed', 'cancelled'].includes(status.state))
      throw new Error(`the flow is ${status.state}: ${status.attention?.error ?? ''}`);
    const step = status.currentStep;
    if (step === 'convertToProject')
      await once('convert', async () => {
        await call('POST', `/v1/leads/${leadId}/convert`, admin, {
          title: 'Rooftop solar, 9 kWp, with battery-ready inverter',
          currency: 'EUR',
          lines: [
            { description: 'Installation, wiring and commissioning', quantity: 1, unitPrice: 320_000 },
            { description: 'Scaffolding', quantity: 1, unitPrice: 45_000 },
          ],
        });
        say('a coordinator converted the lead: the project and its contract exist');
      });
    if (step === 'contractSigned')
      await once('sign', async () => {
        say(await signAsCustomer(await linkFromOutbox(email, /http:\/\/\S+\/sign\/[^\s"]+/), 'Grace Hopper'));
      });
    if (step === 'advancePaid') await once('advance', () => payInvoice('advance'));
    if (step === 'selectionLocked')
      await once('configure', async () => {
        const link = await linkFromOutbox(email, /http:\/\/\S+\/configure\/[^\s"]+/);
        const page = await fetch(link);
        say(`the customer opened the configurator: ${page.status}`);
        const base = new URL(link);
        const at = (path: string) => `${base.origin}${base.pathname}${path}${base.search}`;
        // Typed as a person does: each pause saves the draft.
        for (const quantity of [10, 16, 22]) {
          const saved = await fetch(at('/draft'), {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              lines: [
                { sku: catalogue[0]?.sku, quantity },
                { sku: catalogue[1]?.sku, quantity: 1 },
                { sku: catalogue[2]?.sku, quantity: 1 },
              ],
            }),
          });
          const draft = (await saved.json()) as { total: number };
          say(`autosaved ${quantity} panels: total ${(draft.total / 100).toFixed(2)} EUR`);
        }
        const locked = await fetch(at('/lock'), { method: 'POST' });
        say(`the customer locked the selection: ${locked.status}`);
      });
    if (step === 'producerOrders')
      await once('receive', async () => {
        const orders = await waitForOrders(admin, leadId, 2);
        say(`one order per producer, at once: ${orders.map((order) => order.orderId).join(', ')}`);
        for (const order of orders) {
          await waitForShipment(admin, order.orderId);
          await call('POST', `/v1/supplier-orders/${order.orderId}/receipts`, admin, {
            receiptId: `DN-${order.orderId}`,
            lines: order.lines.map(({ sku, quantity }) => ({ sku, quantity })),
          });
          say(`the warehouse booked in ${order.orderId}`);
        }
      });
    if (step === 'installation')
      await once('install', async () => {
        await call('POST', `/v1/jobs/${leadId}/start`, crewKey);
        await call('POST', `/v1/jobs/${leadId}/complete`, crewKey, {
          checklist: { panels: true, inverter: true, 'meter cabinet': true, handover: true },
          notes: 'Customer shown the app; roof left clean.',
        });
        say('the crew started and completed the installation (checklist done)');
      });
    if (step === 'finalPaid') await once('final', () => payInvoice('final'));
    await sleep(200);
  }
  for (const producer of producers) await producer.simulator.stop();
}

interface Order {
  orderId: string;
  state: string;
  lines: { sku: string; quantity: number }[];
}

async function waitForOrders(key: string, leadId: string, count: number): Promise<Order[]> {
  for (let tries = 0; tries < 300; tries++) {
    const listed = await call<{ orders: Order[] }>('GET', '/v1/supplier-orders?limit=100', key);
    const mine = listed.orders.filter((order) => order.orderId.startsWith(`${leadId}.`));
    if (mine.length >= count) {
      return Promise.all(
        mine.map((order) =>
          call<Order>('GET', `/v1/supplier-orders/${encodeURIComponent(order.orderId)}`, key),
        ),
      );
    }
    await sleep(200);
  }
  throw new Error(`the project's ${count} orders did not appear`);
}

async function waitForShipment(key: string, orderId: string): Promise<void> {
  for (let tries = 0; tries < 300; tries++) {
    const order = await call<Order>('GET', `/v1/supplier-orders/${encodeURIComponent(orderId)}`, key);
    if (order.state === 'SHIPPED') return;
    await sleep(200);
  }
  throw new Error(`${orderId} did not ship`);
}

runDemo(main);
