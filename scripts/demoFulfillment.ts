import { setTimeout as sleep } from 'node:timers/promises';
import { call, config, payByStripe, runDemo, say, secret } from './demo/client.js';

/**
 * `npm run demo:fulfillment`, against a running `npm start`: a hardware order from draft to delivered. Finance
 * prices the products (the price book, a company's agreement), a coordinator drafts the order (each line's price
 * with where it came from), opens its Stripe Checkout and the customer pays (Stripe's signed event); the warehouse
 * ships it in two shipments to two addresses (one new, saved to the company's book), the courier (the simulator
 * `npm start` runs, reporting the way AfterShip does) carries both; delivery starts each sensor's automation step
 * in the legacy system. It prints each step, the shipment's timeline and the Temporal UI link.
 */
interface Order {
  orderId: string;
  number: string;
  state: string;
  fulfillmentState: string | null;
  flowId: string;
  total: number;
  invoice: { invoiceId: string; number: string | null; state: string } | null;
  lines: { sku: string; quantity: number; unitPrice: number; priceSource: string }[];
}

async function until<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  for (let tries = 0; tries < 300; tries++) {
    const value = await read();
    if (ok(value)) return value;
    await sleep(200);
  }
  throw new Error(`${what} did not happen`);
}

async function main() {
  const admin = await secret('demo-api-key');
  const webhookSecret = config.stripe.webhookSecret ?? (await secret('stripe-webhook-secret'));
  const me = await call<{ tenantId: string }>('GET', '/v1/me', admin);
  const run = Date.now();

  const companyId = `HW-${run}`;
  await call('PUT', `/v1/companies/${companyId}`, admin, { name: 'Nordlicht Facilities GmbH' });
  const withContact = await call<{ contacts: { contactId: string }[] }>(
    'POST',
    `/v1/companies/${companyId}/contacts`,
    admin,
    {
      name: 'Jana Kaufmann',
      email: 'accounts@nordlicht.example',
      roles: ['billing'],
      primaryFor: ['billing'],
    },
  );
  await call('POST', `/v1/companies/${companyId}/addresses`, admin, {
    label: 'Head office',
    street: 'Friedrichstr. 10',
    postcode: '10117',
    city: 'Berlin',
    country: 'DE',
    defaultBilling: true,
    defaultShipping: true,
  });
  const company = await call<{ addresses: { addressId: string }[] }>(
    'GET',
    `/v1/companies/${companyId}`,
    admin,
  );
  await call('PUT', '/v1/price-book/TS3-SENSOR', admin, {
    currency: 'EUR',
    name: 'TempSense 3 sensor',
    unitPrice: 14_900,
    stripePriceId: 'price_demoTs3',
  });
  await call('PUT', '/v1/price-book/GW-2', admin, {
    currency: 'EUR',
    name: 'Gateway 2',
    unitPrice: 59_000,
    stripePriceId: 'price_demoGw2',
  });
  await call('PUT', `/v1/companies/${companyId}/prices/GW-2`, admin, {
    currency: 'EUR',
    unitPrice: 49_000,
    agreement: 'Frame agreement 2026',
    stripePriceId: 'price_demoGw2Nordlicht',
  });
  say(`finance priced TS3-SENSOR and GW-2, and ${companyId}'s agreed price for GW-2`);

  const drafted = await call<Order>('POST', '/v1/orders', admin, {
    companyId,
    billingContactId: withContact.contacts[0]?.contactId,
    currency: 'EUR',
    lines: [
      { sku: 'TS3-SENSOR', quantity: 2 },
      { sku: 'GW-2', quantity: 1 },
    ],
  });
  say(
    `order ${drafted.number} drafted: ${drafted.lines.map((l) => `${l.quantity} × ${l.sku} at ${l.unitPrice} (${l.priceSource})`).join(', ')}`,
  );
  const checkout = await call<{ sessionId: string; url: string }>(
    'POST',
    `/v1/orders/${drafted.orderId}/checkout`,
    admin,
  );
  say(`Stripe Checkout opened: ${checkout.url}`);
  const open = await call<Order>('GET', `/v1/orders/${drafted.orderId}`, admin);
  const status = await payByStripe(
    {
      tenantId: me.tenantId,
      invoiceId: open.invoice?.invoiceId ?? '',
      flowId: open.flowId,
      total: open.total,
      key: `${drafted.number}-${run}`,
      order: { orderId: drafted.orderId, sessionId: checkout.sessionId },
    },
    webhookSecret,
  );
  say(`Stripe reported the payment (webhook answered ${status})`);
  const paid = await until(
    'the payment',
    () => call<Order>('GET', `/v1/orders/${drafted.orderId}`, admin),
    (order) => order.state === 'paid' && order.fulfillmentState === 'ready_to_prepare',
  );
  say(
    `order paid; invoice ${paid.invoice?.number} issued (${paid.invoice?.state}); fulfillment ready to prepare`,
  );

  const device = (n: number) => ({ serial: `SN-${run}-${n}`, model: 'TempSense 3', assetId: `ROOM-${n}` });
  const first = await call<{ shipmentId: string }>('POST', `/v1/orders/${drafted.orderId}/shipments`, admin, {
    destination: { addressId: company.addresses[0]?.addressId },
    items: [
      { line: 0, quantity: 1, automation: [{ scenario: 'sensor_vendor_first_time', device: device(1) }] },
      { line: 1, quantity: 1 },
    ],
  });
  const second = await call<{ shipmentId: string }>(
    'POST',
    `/v1/orders/${drafted.orderId}/shipments`,
    admin,
    {
      destination: {
        address: { street: 'Am Hafen 3', postcode: '20457', city: 'Hamburg', country: 'DE' },
        saveAs: 'Hamburg site',
      },
      items: [
        { line: 0, quantity: 1, automation: [{ scenario: 'sensor_partner_first_time', device: device(2) }] },
      ],
    },
  );
  say(
    'the warehouse built two shipments: Berlin (sensor + gateway) and Hamburg (sensor, address saved to the book)',
  );
  for (const [shipment, courierCode] of [
    [first, 'dhl'],
    [second, 'usps'],
  ] as const) {
    const dispatched = await call<{ trackingUrl: string }>(
      'POST',
      `/v1/shipments/${shipment.shipmentId}/dispatch`,
      admin,
      { courierCode, trackingNumber: `${courierCode.toUpperCase()}${run}` },
    );
    say(`handed to ${courierCode}: ${dispatched.trackingUrl}`);
  }
  const done = await until(
    'delivery',
    () => call<Order>('GET', `/v1/orders/${drafted.orderId}`, admin),
    (order) => order.state === 'completed',
  );
  say(`both shipments delivered (courier webhooks); order ${done.number} ${done.state}`);
  for (const shipment of [first, second]) {
    const listed = await until(
      'the automation steps',
      () =>
        call<{ steps: { scenario: string; state: string; deviceId: string | null }[] }>(
          'GET',
          `/v1/automation-steps?shipmentId=${shipment.shipmentId}`,
          admin,
        ),
      (found) => found.steps.length > 0 && found.steps.every((step) => step.state === 'completed'),
    );
    for (const step of listed.steps)
      say(`automation ${step.scenario}: ${step.state} in the legacy system (device ${step.deviceId})`);
  }
  const timeline = await call<{ entries: { at: string; source: string; type: string }[] }>(
    'GET',
    `/v1/shipments/${first.shipmentId}/timeline`,
    admin,
  );
  for (const entry of timeline.entries) say(`  ${entry.at}  ${entry.source.padEnd(10)} ${entry.type}`);
  const flow = await call<{ temporalUiUrl: string }>(
    'GET',
    `/v1/flows/${encodeURIComponent(done.flowId)}`,
    admin,
  );
  say(`done: order ${done.number} is delivered. Temporal UI: ${flow.temporalUiUrl}`);
}

runDemo(main);
