import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CourierSimulator, startCourierSimulator } from '../../scripts/simulators/courier.js';
import { type LegacySimulator, startLegacySimulator } from '../../scripts/simulators/legacy.js';
import { apiClient } from '../helpers/api.js';
import { postStripeWebhook, waitForFlowRow } from '../helpers/flows.js';
import { stripeEvent } from '../helpers/stripeFixtures.js';
import { killProcess } from '../helpers/workerProcess.js';
import { type Rig, repeatedly, shuffle, startRig, WEBHOOK_SECRET } from './rig.js';

const ORDERS = Math.ceil(Number(process.env.CHAOS_FLOWS ?? 100) / 4);
const COURIER_SECRET = 'courier-chaos-webhook-secret';
const LEGACY_TOKEN = 'legacy-chaos-token';

let rig: Rig;
let courier: CourierSimulator;
let legacy: LegacySimulator;

beforeAll(async () => {
  [courier, legacy] = await Promise.all([
    startCourierSimulator({
      webhookSecret: COURIER_SECRET,
      schedule: { InfoReceived: 200, InTransit: 600, OutForDelivery: 1_000, Delivered: 1_400 },
      faults: { webhookCopies: 3, shuffleWebhooks: true, lateMs: 50 },
    }),
    startLegacySimulator({ token: LEGACY_TOKEN }),
  ]);
  rig = await startRig('order-storm', {
    env: { COURIER_WEBHOOK_SECRET: COURIER_SECRET, LEGACY_URL: legacy.url, LEGACY_TOKEN },
  });
});
afterAll(async () => {
  await rig?.stop();
  await Promise.all([courier?.stop(), legacy?.stop()]);
});

async function inBatches<T>(items: T[], size: number, run: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

type Order = {
  orderId: string;
  number: string;
  flowId: string;
  total: number;
  invoice: { invoiceId: string };
  sessionId: string;
};

describe('hardware orders paid twice over, couriers reporting three times shuffled and late, the worker killed', () => {
  it(`delivers ${ORDERS} orders in two shipments each, and automates each item once`, async () => {
    let worker = await rig.startWorker();
    const killer = repeatedly(rig, 3_000, 10_000, async () => {
      await killProcess(worker);
      worker = await rig.startWorker();
    });
    const staff = apiClient(rig.api.url, await rig.tenant.key(['admin']));
    const db = rig.api.deps.db;
    const run = Date.now().toString(36);
    const companyId = `STORM-${run}`;
    await staff.request('PUT', `/v1/companies/${companyId}`, { body: { name: 'Storm Facilities' } });
    const contact = await staff.post(`/v1/companies/${companyId}/contacts`, {
      name: 'Storm Billing',
      email: 'billing@storm.example',
      roles: ['billing'],
    });
    const book = await staff.post(`/v1/companies/${companyId}/addresses`, {
      label: 'Main',
      street: 'Sturmweg 1',
      postcode: '20095',
      city: 'Hamburg',
      country: 'DE',
      defaultBilling: true,
    });
    await staff.request('PUT', '/v1/price-book/STORM-SENSOR', {
      body: { currency: 'EUR', name: 'Storm sensor', unitPrice: 9_900, stripePriceId: 'price_stormSensor' },
    });

    // Every order drafted, checked out, and paid by Stripe's event, each delivered twice, all shuffled.
    const orders: Order[] = [];
    await inBatches(
      Array.from({ length: ORDERS }, (_, i) => i),
      10,
      async () => {
        const drafted = await staff.post('/v1/orders', {
          companyId,
          billingContactId: contact.body.contacts[0].contactId,
          currency: 'EUR',
          lines: [{ sku: 'STORM-SENSOR', quantity: 2 }],
        });
        expect(drafted.status, drafted.text).toBe(201);
        const checkout = await staff.post(`/v1/orders/${drafted.body.orderId}/checkout`, {});
        expect(checkout.status, checkout.text).toBe(201);
        orders.push({
          ...(await staff.get(`/v1/orders/${drafted.body.orderId}`)).body,
          sessionId: checkout.body.sessionId,
        });
      },
    );
    const payments = shuffle(
      orders.flatMap((order) => {
        const payload = stripeEvent(
          `evt_${order.number}_${run}`,
          'checkout.session.completed',
          'checkout.session',
          {
            id: order.sessionId,
            amount_total: order.total,
            amount_subtotal: order.total,
            currency: 'eur',
            payment_intent: `pi_${order.number}_${run}`,
            payment_status: 'paid',
            status: 'complete',
            metadata: {
              tenantId: rig.tenant.tenantId,
              invoiceId: order.invoice.invoiceId,
              orderId: order.orderId,
              flowId: order.flowId,
            },
          },
        );
        return [payload, payload];
      }),
      rig.random,
    );
    await inBatches(payments, 20, async (payload) => {
      expect((await postStripeWebhook(rig.api.url, payload, WEBHOOK_SECRET)).status).toBe(200);
    });
    await inBatches(orders, 20, (order) =>
      waitForFlowRow(db, order.flowId, (row) => row?.current_step === 'shipAndDeliver', 300_000),
    );

    // Two shipments each, one sensor apiece with its automation step, handed to couriers that misbehave.
    await inBatches(orders, 10, async (order) => {
      for (const [n, courierCode] of ['dhl', 'usps'].entries()) {
        const built = await staff.post(`/v1/orders/${order.orderId}/shipments`, {
          destination:
            n === 0
              ? { addressId: book.body.addresses[0].addressId }
              : {
                  address: { street: `Baustelle ${n}`, postcode: '20457', city: 'Hamburg', country: 'DE' },
                },
          items: [
            {
              line: 0,
              quantity: 1,
              automation: [
                {
                  scenario: 'sensor_vendor_first_time',
                  device: {
                    serial: `SN-${order.number}-${n}-${run}`,
                    model: 'Storm 1',
                    assetId: `A-${order.number}-${n}`,
                  },
                },
              ],
            },
          ],
        });
        expect(built.status, built.text).toBe(201);
        const trackingNumber = `${courierCode.toUpperCase()}${order.number.replaceAll('-', '')}${run}`;
        const ready = await staff.post(`/v1/shipments/${built.body.shipmentId}/dispatch`, {
          courierCode,
          trackingNumber,
        });
        expect(ready.status, ready.text).toBe(200);
        courier.track(courierCode, trackingNumber, `${rig.api.url}/webhooks/couriers/aftership`);
      }
    });
    await inBatches(orders, 20, (order) =>
      waitForFlowRow(db, order.flowId, (row) => row?.state === 'completed', 600_000),
    );
    await courier.settled();
    const kills = await killer.stop();

    const problems: string[] = [];
    const orderIds = orders.map((order) => order.orderId);
    const items = await db
      .selectFrom('shipment_items')
      .select('id')
      .where('order_id', 'in', orderIds)
      .execute();
    const steps = await db
      .selectFrom('automation_steps')
      .select('shipment_item_id')
      .where('tenant_id', '=', rig.tenant.tenantId)
      .where(
        'shipment_item_id',
        'in',
        items.map((item) => item.id),
      )
      .execute();
    for (const item of items) {
      const mine = steps.filter((step) => step.shipment_item_id === item.id).length;
      if (mine !== 1) problems.push(`item ${item.id}: ${mine} automation steps`);
    }
    // Waits for the automation steps themselves (they outlive their orders).
    for (let tries = 0; tries < 600; tries++) {
      const open = await db
        .selectFrom('automation_steps')
        .select('id')
        .where('tenant_id', '=', rig.tenant.tenantId)
        .where('state', '!=', 'completed')
        .execute();
      if (open.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const events = await db
      .selectFrom('domain_events')
      .select(['entity_type', 'entity_id', 'type'])
      .where('tenant_id', '=', rig.tenant.tenantId)
      .where('type', 'in', [
        'order.paid',
        'order.completed',
        'invoice.issued',
        'shipment.delivered',
        'automation.step_completed',
      ])
      .execute();
    const count = (type: string, id: string) =>
      events.filter((event) => event.type === type && event.entity_id === id).length;
    for (const order of orders) {
      for (const type of ['order.paid', 'order.completed'])
        if (count(type, order.number) !== 1)
          problems.push(`${order.number}: ${type} ×${count(type, order.number)}`);
      const paid = await db
        .selectFrom('payments')
        .select('amount')
        .where('invoice_id', '=', order.invoice.invoiceId)
        .execute();
      if (paid.length !== 1 || Number(paid[0]?.amount) !== order.total)
        problems.push(`${order.number}: payments ${JSON.stringify(paid)}`);
    }
    const shipments = await db
      .selectFrom('shipments')
      .select(['id', 'state'])
      .where('order_id', 'in', orderIds)
      .execute();
    for (const shipment of shipments)
      if (shipment.state !== 'delivered' || count('shipment.delivered', shipment.id) !== 1)
        problems.push(
          `shipment ${shipment.id}: ${shipment.state}, delivered ×${count('shipment.delivered', shipment.id)}`,
        );
    const serials = [...legacy.devices.values()]
      .map((device) => device.serial)
      .filter((serial) => serial.endsWith(run));
    if (serials.length !== items.length || new Set(serials).size !== serials.length)
      problems.push(`legacy devices: ${serials.length} for ${items.length} items`);
    const completed = events.filter((event) => event.type === 'automation.step_completed').length;
    rig.log(
      JSON.stringify({
        kills,
        orders: orders.length,
        shipments: shipments.length,
        completed,
        webhooks: courier.deliveries.length,
      }),
    );
    expect(problems).toEqual([]);
    expect(completed).toBe(items.length);
    expect(kills).toBeGreaterThan(0);
  });
});
