import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { createLogger } from '../runtime/logger.js';
import { type CourierSimulator, startCourierSimulator } from '../scripts/simulators/courier.js';
import { type LegacySimulator, startLegacySimulator } from '../scripts/simulators/legacy.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { postStripeWebhook, stripeEventSettled, waitForFlowRow } from './helpers/flows.js';
import { recordHistories } from './helpers/histories.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { stripeEvent } from './helpers/stripeFixtures.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const WEBHOOK_SECRET = 'whsec_orders_test';
const COURIER_SECRET = 'courier-webhook-secret-for-tests';
const OPS_EMAIL = 'ops@flowdesk.example';
let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let legacy: LegacySimulator;
let courier: CourierSimulator;
let worker: TestWorker;
let tenant: TestTenant;
let finance: ReturnType<typeof apiClient>;
let coordinator: ReturnType<typeof apiClient>;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now()}-${++counter}`;

type Order = {
  orderId: string;
  number: string;
  state: string;
  fulfillmentState: string | null;
  flowId: string;
  total: number;
  invoice: { invoiceId: string; number: string | null; state: string; paid: number } | null;
  lines: {
    line: number;
    sku: string;
    unitPrice: number;
    priceSource: string;
    priceNotes: string | null;
    remaining: number;
  }[];
};
let company: { companyId: string; contactId: string; billingAddressId: string; siteAddressId: string };

beforeAll(async () => {
  [smtp, stripeMock, legacy, courier] = await Promise.all([
    startSmtpSink(),
    startStripeMock(),
    startLegacySimulator({ token: 'legacy-test-token' }),
    startCourierSimulator({
      webhookSecret: COURIER_SECRET,
      schedule: { InfoReceived: 50, InTransit: 150, OutForDelivery: 250, Delivered: 400 },
    }),
  ]);
  const taskQueue = `orders-${Date.now()}`;
  const env = {
    TEMPORAL_TASK_QUEUE: taskQueue,
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    COURIER_WEBHOOK_SECRET: COURIER_SECRET,
    COURIER_API_URL: courier.url,
    COURIER_POLL_SECONDS: '1',
  };
  api = await startTestApi({ env });
  const config = testConfig({
    ...env,
    SMTP_URL: smtp.url,
    OPS_EMAIL,
    PUBLIC_URL: api.url,
    LEGACY_URL: legacy.url,
    LEGACY_TOKEN: 'legacy-test-token',
  });
  worker = await startTestWorker({
    taskQueue,
    activities: createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') }),
  });
  tenant = await createTestTenant(api.deps.db);
  finance = apiClient(api.url, await tenant.key(['finance']));
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));

  const companyId = unique('ACME');
  expect((await coordinator.put(`/v1/companies/${companyId}`, { name: 'Acme Sensors GmbH' })).status).toBe(
    201,
  );
  const withContact = await coordinator.post(`/v1/companies/${companyId}/contacts`, {
    name: 'Bea Billing',
    email: 'billing@acme.example',
    roles: ['billing'],
    primaryFor: ['billing'],
  });
  await coordinator.post(`/v1/companies/${companyId}/addresses`, {
    label: 'Head office',
    street: 'Hauptstr. 1',
    postcode: '10115',
    city: 'Berlin',
    country: 'DE',
    defaultBilling: true,
  });
  const book = await coordinator.post(`/v1/companies/${companyId}/addresses`, {
    label: 'Plant A',
    street: 'Werkstr. 5',
    postcode: '04109',
    city: 'Leipzig',
    country: 'DE',
    defaultShipping: true,
  });
  const addresses = book.body.addresses as { addressId: string; label: string }[];
  company = {
    companyId,
    contactId: withContact.body.contacts[0].contactId,
    billingAddressId: addresses.find((a) => a.label === 'Head office')?.addressId ?? '',
    siteAddressId: addresses.find((a) => a.label === 'Plant A')?.addressId ?? '',
  };
  const price = (sku: string, body: Record<string, unknown>) => finance.put(`/v1/price-book/${sku}`, body);
  expect(
    (
      await price('SENSOR-1', {
        currency: 'EUR',
        name: 'TempSense 3',
        unitPrice: 15_000,
        stripePriceId: 'price_sensor1',
      })
    ).status,
  ).toBe(204);
  await price('SENSOR-1', {
    region: 'EU-West',
    currency: 'EUR',
    name: 'TempSense 3 (EU-West)',
    unitPrice: 14_000,
    stripePriceId: 'price_sensor1euw',
  });
  await price('GATEWAY-1', {
    currency: 'EUR',
    name: 'Gateway',
    unitPrice: 50_000,
    stripePriceId: 'price_gateway',
  });
  await price('CABLE-1', { currency: 'EUR', name: 'Sensor cable', unitPrice: 900 });
  expect(
    (
      await finance.put(`/v1/companies/${companyId}/prices/GATEWAY-1`, {
        currency: 'EUR',
        unitPrice: 42_000,
        agreement: 'Frame agreement 2026-07',
        stripePriceId: 'price_gatewayacme',
      })
    ).status,
  ).toBe(204);
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripeMock?.stop(), legacy?.stop(), courier?.stop()]);
});

async function draft(lines: unknown[], extra: Record<string, unknown> = {}): Promise<Order> {
  const created = await coordinator.post('/v1/orders', {
    companyId: company.companyId,
    billingContactId: company.contactId,
    currency: 'EUR',
    lines,
    ...extra,
  });
  expect(created.status, created.text).toBe(201);
  return created.body as Order;
}

const order = async (orderId: string) => (await coordinator.get(`/v1/orders/${orderId}`)).body as Order;

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Stripe's signed event about the order's open Checkout Session, delivered and relayed. */
async function stripeSays(drafted: Order, type: string, session: Record<string, unknown>) {
  const sessions = await api.deps.db
    .selectFrom('checkout_sessions')
    .select(['id', 'attempt'])
    .where('invoice_id', '=', drafted.invoice?.invoiceId ?? '')
    .orderBy('attempt', 'desc')
    .execute();
  const sessionId = (session.id as string | undefined) ?? sessions[0]?.id;
  const id = unique('evt');
  const payload = stripeEvent(id, type, 'checkout.session', {
    id: sessionId,
    amount_total: drafted.total,
    amount_subtotal: drafted.total,
    currency: 'eur',
    payment_intent: `pi_${id}`,
    metadata: {
      tenantId: tenant.tenantId,
      invoiceId: drafted.invoice?.invoiceId,
      orderId: drafted.orderId,
      flowId: drafted.flowId,
    },
    ...session,
  });
  const answer = await postStripeWebhook(api.url, payload, WEBHOOK_SECRET);
  expect(answer.status).toBe(200);
  await stripeEventSettled(api.deps.db, id);
  return payload;
}

async function paidOrder(lines: unknown[]): Promise<Order> {
  const drafted = await draft(lines);
  const checkout = await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {});
  expect(checkout.status, checkout.text).toBe(201);
  const open = await order(drafted.orderId);
  await stripeSays(open, 'checkout.session.completed', { payment_status: 'paid', status: 'complete' });
  const paid = await until(
    () => order(drafted.orderId),
    (o) => o.state === 'paid',
    'payment',
  );
  await waitForFlowRow(api.deps.db, paid.flowId, (row) => row?.current_step === 'shipAndDeliver');
  return paid;
}

async function ship(orderId: string, body: Record<string, unknown>) {
  return coordinator.post(`/v1/orders/${orderId}/shipments`, body);
}

const device = () => ({ serial: unique('SN'), model: 'TempSense 3', assetId: unique('ASSET') });

describe('hardware orders', () => {
  it('snapshots each line’s price with its provenance; a later price change does not touch the draft', async () => {
    const drafted = await draft(
      [
        { sku: 'SENSOR-1', quantity: 3 },
        { sku: 'GATEWAY-1', quantity: 1 },
        {
          sku: 'MOUNT-X',
          quantity: 2,
          bespoke: {
            description: 'Custom mount',
            unitPrice: 2_500,
            notes: 'Agreed by phone with Bea, 2026-12-01',
          },
        },
      ],
      { region: 'EU-West' },
    );
    expect(drafted.state).toBe('draft');
    expect(drafted.lines.map((l) => [l.sku, l.priceSource, l.unitPrice])).toEqual([
      ['SENSOR-1', 'price_book_regional', 14_000],
      ['GATEWAY-1', 'company_agreement', 42_000],
      ['MOUNT-X', 'bespoke', 2_500],
    ]);
    expect(drafted.lines[1]?.priceNotes).toBe('Frame agreement 2026-07');
    expect(drafted.total).toBe(3 * 14_000 + 42_000 + 2 * 2_500);
    const global = await draft([{ sku: 'SENSOR-1', quantity: 1 }]);
    expect(global.lines[0]).toMatchObject({ priceSource: 'price_book_global', unitPrice: 15_000 });

    await finance.put('/v1/price-book/SENSOR-1', {
      region: 'EU-West',
      currency: 'EUR',
      name: 'TempSense 3',
      unitPrice: 14_500,
      stripePriceId: 'price_sensor1euw',
    });
    expect((await order(drafted.orderId)).lines[0]?.unitPrice).toBe(14_000);
    // Checkout revalidates strictly: the changed price is named, and nothing is written.
    const refused = await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {});
    expect(refused.status).toBe(409);
    expect(refused.body.errors).toEqual([
      expect.objectContaining({ field: 'lines.0', message: expect.stringMatching(/price changed/) }),
      expect.objectContaining({ field: 'lines.2', message: expect.stringMatching(/not synced to Stripe/) }),
    ]);
    // With the catalogue price back, the bespoke line without a Stripe price still blocks it.
    await finance.put('/v1/price-book/SENSOR-1', {
      region: 'EU-West',
      currency: 'EUR',
      name: 'TempSense 3',
      unitPrice: 14_000,
      stripePriceId: 'price_sensor1euw',
    });
    const again = await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {});
    expect(again.status, again.text).toBe(409);
    expect(again.body.errors, again.text).toEqual([
      expect.objectContaining({ field: 'lines.2', message: expect.stringMatching(/not synced to Stripe/) }),
    ]);
    const after = await order(drafted.orderId);
    expect(after.state).toBe('draft');
    expect(after.invoice).toBeNull();
  });

  it('refuses checkout for a line whose price is not synced to Stripe, naming the line; nothing is written', async () => {
    const drafted = await draft([
      { sku: 'SENSOR-1', quantity: 1 },
      { sku: 'CABLE-1', quantity: 4 },
    ]);
    const refused = await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {});
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(refused.body.errors).toEqual([
      { field: 'lines.1', message: 'CABLE-1: its price is not synced to Stripe (no Stripe price id)' },
    ]);
    const after = await order(drafted.orderId);
    expect(after).toMatchObject({ state: 'draft', invoice: null });
    const sessions = await api.deps.db
      .selectFrom('invoices')
      .select('id')
      .where('invoice_key', '=', drafted.number)
      .execute();
    expect(sessions).toHaveLength(0);
  });

  it('recovers from a failed and an expired payment with a new checkout, and is paid once', async () => {
    const drafted = await draft([{ sku: 'SENSOR-1', quantity: 2 }]);
    expect((await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {})).status).toBe(201);
    let current = await order(drafted.orderId);
    expect(current.state).toBe('checkout_open');
    await stripeSays(current, 'checkout.session.completed', { payment_status: 'unpaid', status: 'complete' });
    expect((await order(drafted.orderId)).state).toBe('payment_processing');
    await stripeSays(current, 'checkout.session.async_payment_failed', { payment_status: 'unpaid' });
    expect((await order(drafted.orderId)).state).toBe('payment_failed');

    const second = await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {});
    expect(second.body.attempt).toBe(2);
    current = await order(drafted.orderId);
    await stripeSays(current, 'checkout.session.expired', { payment_status: 'unpaid', status: 'expired' });
    expect((await order(drafted.orderId)).state).toBe('payment_expired');

    const third = await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {});
    expect(third.body.attempt).toBe(3);
    current = await order(drafted.orderId);
    const paidEvent = await stripeSays(current, 'checkout.session.completed', {
      payment_status: 'paid',
      status: 'complete',
    });
    // Stripe delivers it again: one payment, one invoice number.
    await postStripeWebhook(api.url, paidEvent, WEBHOOK_SECRET);
    const paid = await until(
      () => order(drafted.orderId),
      (o) => o.state === 'paid',
      'payment',
    );
    expect(paid.invoice).toMatchObject({
      state: 'PAID',
      paid: drafted.total,
      number: expect.stringMatching(/^INV-\d{4}-\d{6}$/),
    });
    const payments = await api.deps.db
      .selectFrom('payments')
      .select('amount')
      .where('invoice_id', '=', paid.invoice?.invoiceId ?? '')
      .execute();
    expect(payments).toHaveLength(1);
    const trail = await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('entity_type', '=', 'order')
      .where('entity_id', '=', drafted.number)
      .where('tenant_id', '=', tenant.tenantId)
      .orderBy('position')
      .execute();
    expect(trail.map((e) => e.type).filter((t) => t.startsWith('order.'))).toEqual([
      'order.drafted',
      'order.checkout.opened',
      'order.payment.processing',
      'order.payment.failed',
      'order.checkout.opened',
      'order.payment.expired',
      'order.checkout.opened',
      'order.paid',
    ]);
    await waitForFlowRow(api.deps.db, paid.flowId, (row) => row?.current_step === 'shipAndDeliver');
  });

  it('is paid by a signed Stripe event, shipped in two shipments to two addresses, delivered by duplicated and shuffled courier webhooks, and automated', async () => {
    const paid = await paidOrder([
      { sku: 'SENSOR-1', quantity: 2 },
      { sku: 'GATEWAY-1', quantity: 1 },
    ]);
    expect((await order(paid.orderId)).fulfillmentState).toBe('ready_to_prepare');
    const first = await ship(paid.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [
        { line: 0, quantity: 1, automation: [{ scenario: 'sensor_vendor_first_time', device: device() }] },
        { line: 1, quantity: 1 },
      ],
    });
    expect(first.status, first.text).toBe(201);
    const second = await ship(paid.orderId, {
      destination: {
        address: { street: 'Baustelle 7', postcode: '01067', city: 'Dresden', country: 'DE' },
        saveAs: 'Site Dresden',
      },
      items: [
        { line: 0, quantity: 1, automation: [{ scenario: 'sensor_partner_first_time', device: device() }] },
      ],
    });
    expect(second.status, second.text).toBe(201);
    expect(first.body.address.city).toBe('Leipzig');
    expect(second.body.address.city).toBe('Dresden');
    const book = (await coordinator.get(`/v1/companies/${company.companyId}`)).body.addresses as {
      label: string;
    }[];
    expect(book.map((a) => a.label)).toContain('Site Dresden');
    expect((await order(paid.orderId)).lines.map((l) => l.remaining)).toEqual([0, 0]);

    const unknown = await ship(paid.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [{ line: 0, quantity: 1, automation: [{ scenario: 'sensor_teleport', device: device() }] }],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([
      expect.objectContaining({ field: 'body.items.0.automation.0.scenario' }),
    ]);
    // Over-allocation: nothing is left of line 0; the refusal names the item and writes nothing.
    const shipmentsBefore = await api.deps.db
      .selectFrom('shipments')
      .select('id')
      .where('order_id', '=', paid.orderId)
      .execute();
    const over = await ship(paid.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [
        { line: 1, quantity: 1 },
        { line: 0, quantity: 1 },
      ],
    });
    expect(over.status).toBe(409);
    expect(over.body.errors).toEqual([
      { field: 'body.items.0.quantity', message: 'line 1 has 0 left to ship, not 1' },
    ]);
    expect(
      await api.deps.db.selectFrom('shipments').select('id').where('order_id', '=', paid.orderId).execute(),
    ).toHaveLength(shipmentsBefore.length);
    expect((await order(paid.orderId)).lines.map((l) => l.remaining)).toEqual([0, 0]);

    courier.faults.webhookCopies = 2;
    courier.faults.shuffleWebhooks = true;
    try {
      const shipments = [
        { id: first.body.shipmentId as string, code: 'dhl', number: unique('JD').replaceAll('-', '') },
        { id: second.body.shipmentId as string, code: 'usps', number: unique('94').replaceAll('-', '') },
      ];
      for (const s of shipments) {
        const ready = await coordinator.post(`/v1/shipments/${s.id}/dispatch`, {
          courierCode: s.code,
          trackingNumber: s.number,
        });
        expect(ready.status, ready.text).toBe(200);
        expect(ready.body).toMatchObject({ state: 'ready', trackingUrl: expect.stringContaining(s.number) });
        courier.track(s.code, s.number, `${api.url}/webhooks/couriers/aftership`);
      }
      const done = await until(
        () => order(paid.orderId),
        (o) => o.state === 'completed',
        'order completion',
        40_000,
      );
      expect(done.fulfillmentState).toBe('completed');
      await courier.settled();
      for (const s of shipments) {
        const shipment = (await coordinator.get(`/v1/shipments/${s.id}`)).body;
        expect(shipment).toMatchObject({ state: 'delivered', courierTag: 'Delivered' });
        const stored = await api.deps.db
          .selectFrom('courier_events')
          .select(['event_id', 'applied'])
          .where('shipment_id', '=', s.id)
          .execute();
        const sent = courier.deliveries.filter((d) => d.trackingNumber === s.number);
        // Every event twice, each stored once; shuffled ones that came after Delivered were ignored.
        expect(sent.length).toBe(2 * new Set(sent.map((d) => d.eventId)).size);
        expect(stored.length).toBe(new Set(sent.map((d) => d.eventId)).size);
        expect(stored.filter((e) => e.applied).length).toBeGreaterThanOrEqual(1);
        const delivered = await api.deps.db
          .selectFrom('domain_events')
          .select('id')
          .where('entity_type', '=', 'shipment')
          .where('entity_id', '=', s.id)
          .where('type', '=', 'shipment.delivered')
          .execute();
        expect(delivered).toHaveLength(1);
      }
    } finally {
      courier.faults.webhookCopies = 1;
      courier.faults.shuffleWebhooks = false;
    }

    // Delivery started each item's automation step, as a child flow of the order.
    const itemIds = [first.body.items[0].shipmentItemId, second.body.items[0].shipmentItemId];
    const steps = await until(
      () =>
        api.deps.db
          .selectFrom('automation_steps')
          .selectAll()
          .where('shipment_item_id', 'in', itemIds)
          .execute(),
      (rows) => rows.length === 2 && rows.every((row) => row?.state === 'completed'),
      'automation',
    );
    expect(steps.map((s) => s.scenario).sort()).toEqual([
      'sensor_partner_first_time',
      'sensor_vendor_first_time',
    ]);
    const listed = (await coordinator.get(`/v1/automation-steps?shipmentId=${second.body.shipmentId}`)).body;
    expect(listed.steps.map((s: { scenario: string }) => s.scenario)).toEqual(['sensor_partner_first_time']);
    const children = await api.deps.db
      .selectFrom('flows')
      .select('parent_id')
      .where(
        'id',
        'in',
        steps.map((s) => s.flow_id),
      )
      .execute();
    expect(children.map((c) => c.parent_id)).toEqual([paid.flowId, paid.flowId]);
    await waitForFlowRow(api.deps.db, paid.flowId, (row) => row?.state === 'completed');
    recordHistories({ orderFulfillment: paid.flowId });

    // The timeline: Flowdesk's events, the courier's, and the automation's, in time order.
    const timeline = (await coordinator.get(`/v1/shipments/${first.body.shipmentId}/timeline`)).body
      .entries as {
      at: string;
      source: string;
      type: string;
    }[];
    expect(timeline.map((e) => e.at)).toEqual([...timeline.map((e) => e.at)].sort());
    const types = timeline.map((e) => `${e.source}:${e.type}`);
    expect(types[0]).toBe('flowdesk:shipment.created');
    expect(types).toContain('flowdesk:shipment.ready');
    expect(types).toContain('courier:courier.Delivered');
    expect(types).toContain('automation:automation.call');
    expect(types.indexOf('flowdesk:shipment.delivered')).toBeLessThan(
      types.indexOf('automation:automation.step_completed'),
    );

    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/flowdesk_fulfillment_lead_time_seconds\{quantile="0.5"\} \d/);
    expect(metrics).toMatch(/flowdesk_shipment_delivery_time_seconds\{quantile="0.9"\} \d/);
  }, 90_000);

  it('puts a courier exception before a person, who says it arrived', async () => {
    const paid = await paidOrder([{ sku: 'SENSOR-1', quantity: 1 }]);
    const built = await ship(paid.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [{ line: 0, quantity: 1 }],
    });
    const shipmentId = built.body.shipmentId as string;
    const number = unique('EXC').replaceAll('-', '');
    await coordinator.post(`/v1/shipments/${shipmentId}/dispatch`, {
      courierCode: 'canada-post',
      trackingNumber: number,
    });
    courier.track('canada-post', number, `${api.url}/webhooks/couriers/aftership`, {});
    await courier.advance('canada-post', number, 'InTransit');
    await courier.advance('canada-post', number, 'Exception');
    const attention = await waitForFlowRow(
      api.deps.db,
      paid.flowId,
      (row) => row?.state === 'needs_attention',
    );
    expect(attention.attention).toMatchObject({
      reason: 'courier_exception',
      options: ['retry', 'fallback'],
    });
    expect((await coordinator.get(`/v1/shipments/${shipmentId}`)).body.exception).toBe('Exception');
    // Ops were emailed once: on record, and in the mail server.
    const sent = await until(
      () =>
        api.deps.db
          .selectFrom('emails')
          .select(['status', 'message_id', 'to_address', 'last_error'])
          .where('tenant_id', '=', tenant.tenantId)
          .where('template', '=', 'shipment.exception')
          .where('idempotency_key', 'like', `${paid.flowId}/%`)
          .execute(),
      (rows) => rows.length > 0 && rows.every((row) => row.status === 'sent'),
      'ops email',
    );
    expect(sent).toEqual([expect.objectContaining({ to_address: OPS_EMAIL })]);
    expect(smtp.messages.filter((m) => m.parsed.messageId === sent[0]?.message_id)).toHaveLength(1);
    const resolved = await coordinator.post(`/v1/flows/${encodeURIComponent(paid.flowId)}/resolve`, {
      action: 'fallback',
      note: 'Customer confirmed by phone: the parcel is at the site',
    });
    expect(resolved.status, resolved.text).toBe(200);
    const done = await until(
      () => order(paid.orderId),
      (o) => o.state === 'completed',
      'completion',
    );
    expect(done.fulfillmentState).toBe('completed');
    const shipment = (await coordinator.get(`/v1/shipments/${shipmentId}`)).body;
    expect(shipment).toMatchObject({ state: 'delivered', exception: null });
    await waitForFlowRow(api.deps.db, paid.flowId, (row) => row?.state === 'completed');
    recordHistories({ 'orderFulfillment.exception': paid.flowId });
    // The courier's late news changes nothing.
    const late = await courier.advance('canada-post', number, 'InTransit');
    expect(late).toBeUndefined();
    const ignored = await api.deps.db
      .selectFrom('courier_events')
      .select(['applied', 'ignored_reason'])
      .where('shipment_id', '=', shipmentId)
      .where('tag', '=', 'InTransit')
      .execute();
    expect(ignored.filter((e) => !e.applied)).toHaveLength(1);
  }, 60_000);

  it('shows another tenant none of it, and lets it change nothing', async () => {
    const paid = await paidOrder([{ sku: 'SENSOR-1', quantity: 1 }]);
    const built = await ship(paid.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [{ line: 0, quantity: 1 }],
    });
    const other = await createTestTenant(api.deps.db);
    const stranger = apiClient(api.url, await other.key(['admin']));
    const shipmentId = built.body.shipmentId as string;
    expect((await stranger.get(`/v1/orders/${paid.orderId}`)).status).toBe(404);
    expect((await stranger.post(`/v1/orders/${paid.orderId}/checkout`, {})).status).toBe(404);
    expect((await stranger.get(`/v1/shipments/${shipmentId}`)).status).toBe(404);
    expect((await stranger.get(`/v1/shipments/${shipmentId}/timeline`)).status).toBe(404);
    expect(
      (
        await stranger.post(`/v1/shipments/${shipmentId}/dispatch`, {
          courierCode: 'dhl',
          trackingNumber: 'X1234',
        })
      ).status,
    ).toBe(404);
    expect((await stranger.post(`/v1/shipments/${shipmentId}/cancel`, { reason: 'mine now' })).status).toBe(
      404,
    );
    expect(
      (
        await stranger.post(`/v1/orders/${paid.orderId}/shipments`, {
          destination: { address: { street: 'X', postcode: '1', city: 'Y', country: 'DE' } },
          items: [{ line: 0, quantity: 1 }],
        })
      ).status,
    ).toBe(404);
    expect((await coordinator.get(`/v1/shipments/${shipmentId}`)).body.state).toBe('draft');
  });

  it('is cancelled before anything left (drafts cancelled, finance told what was paid), not after', async () => {
    const paid = await paidOrder([{ sku: 'SENSOR-1', quantity: 2 }]);
    const built = await ship(paid.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [{ line: 0, quantity: 1 }],
    });
    const cancel = await coordinator.post(`/v1/flows/${encodeURIComponent(paid.flowId)}/cancel`, {
      reason: 'customer withdrew',
    });
    expect(cancel.status, cancel.text).toBe(202);
    const cancelled = await until(
      () => order(paid.orderId),
      (o) => o.state === 'cancelled',
      'cancellation',
    );
    expect(cancelled.fulfillmentState).toBe('cancelled');
    expect((await coordinator.get(`/v1/shipments/${built.body.shipmentId}`)).body.state).toBe('cancelled');
    const event = await api.deps.db
      .selectFrom('domain_events')
      .select('payload')
      .where('flow_id', '=', paid.flowId)
      .where('type', '=', 'order.cancelled')
      .executeTakeFirstOrThrow();
    expect(event.payload).toMatchObject({ paid: paid.total });

    const shipped = await paidOrder([{ sku: 'SENSOR-1', quantity: 1 }]);
    const parcel = await ship(shipped.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [{ line: 0, quantity: 1 }],
    });
    const number = unique('LEFT').replaceAll('-', '');
    await coordinator.post(`/v1/shipments/${parcel.body.shipmentId}/dispatch`, {
      courierCode: 'dhl',
      trackingNumber: number,
    });
    courier.track('dhl', number, `${api.url}/webhooks/couriers/aftership`, {});
    await courier.advance('dhl', number, 'InTransit');
    const refused = await coordinator.post(`/v1/flows/${encodeURIComponent(shipped.flowId)}/cancel`, {
      reason: 'too late',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/goods have left/);
  });

  it('polls couriers without webhooks', async () => {
    const paid = await paidOrder([{ sku: 'GATEWAY-1', quantity: 1 }]);
    const built = await ship(paid.orderId, {
      destination: { addressId: company.siteAddressId },
      items: [{ line: 0, quantity: 1 }],
    });
    const number = unique('CC').replaceAll('-', '');
    await coordinator.post(`/v1/shipments/${built.body.shipmentId}/dispatch`, {
      courierCode: 'chitchats',
      trackingNumber: number,
    });
    // Dispatch registered the tracking at the tracking API, which the poller then reads.
    expect(courier.trackings.has(`chitchats/${number}`)).toBe(true);
    const done = await until(
      () => order(paid.orderId),
      (o) => o.state === 'completed',
      'completion by polling',
    );
    expect(done.fulfillmentState).toBe('completed');
    const events = await api.deps.db
      .selectFrom('courier_events')
      .select('event_id')
      .where('shipment_id', '=', built.body.shipmentId)
      .execute();
    expect(events.every((e) => e.event_id.startsWith('poll:'))).toBe(true);
  }, 60_000);

  it('confirms an order on terms without payment; finance invoices it with the invoice machinery', async () => {
    const drafted = await draft([{ sku: 'GATEWAY-1', quantity: 2 }], { paymentTerms: 'on_terms' });
    expect((await coordinator.post(`/v1/orders/${drafted.orderId}/checkout`, {})).status).toBe(409);
    expect((await coordinator.post(`/v1/orders/${drafted.orderId}/invoice`, {})).status).toBe(403);
    expect((await finance.post(`/v1/orders/${drafted.orderId}/invoice`, {})).status).toBe(409);
    const confirmed = await coordinator.post(`/v1/orders/${drafted.orderId}/confirm`, {});
    expect(confirmed.status, confirmed.text).toBe(200);
    await waitForFlowRow(api.deps.db, drafted.flowId, (row) => row?.current_step === 'shipAndDeliver');
    const invoiced = await finance.post(`/v1/orders/${drafted.orderId}/invoice`, {});
    expect(invoiced.status, invoiced.text).toBe(200);
    const issued = await until(
      () => order(drafted.orderId),
      (o) => Boolean(o.invoice?.number),
      'invoice',
    );
    expect(issued.invoice?.number).toMatch(/^INV-/);
    expect((await finance.post(`/v1/orders/${drafted.orderId}/invoice`, {})).body.created).toBe(false);
  }, 60_000);
});
