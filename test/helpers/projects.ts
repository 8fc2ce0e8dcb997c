import { expect } from 'vitest';
import type { Db } from '../../db/client.js';
import type { ApiResponse, TestTenant } from './api.js';
import {
  checkoutCompletedEvent,
  deliverStripeEvent,
  signingLinkFor,
  submitSigningForm,
  waitForFlowRow,
} from './flows.js';
import type { SmtpSink } from './smtp.js';
import { SUPPLIER_CREDENTIALS, SUPPLIER_WEBHOOK_SECRET, type supplierSimulators } from './suppliers.js';

type Client = {
  request: <T = any>(
    method: string,
    path: string,
    options?: { body?: unknown; headers?: Record<string, string> },
  ) => Promise<ApiResponse<T>>;
  get: <T = any>(path: string) => Promise<ApiResponse<T>>;
  post: <T = any>(path: string, body?: unknown) => Promise<ApiResponse<T>>;
};

/** What the project helpers work with; read when they run, so a test file can fill it in its beforeAll. */
export interface ProjectTestContext {
  api: { url: string; deps: { db: Db } };
  smtp: SmtpSink;
  tenant: TestTenant;
  admin: Client;
  coordinator: Client;
  warehouse: Client;
  simulators: ReturnType<typeof supplierSimulators>;
  stripeWebhookSecret: string;
}

export const CONTRACT = {
  title: 'Rooftop solar, 8 kWp',
  currency: 'EUR',
  lines: [{ description: 'Installation and wiring', quantity: 1, unitPrice: 300_000 }],
};

export const flowPath = (flowId: string) => `/v1/flows/${encodeURIComponent(flowId)}`;

let counter = 0;
export const unique = (prefix: string) => `${prefix}-${Date.now()}-${++counter}`;

type SimulatorOptions = Parameters<ReturnType<typeof supplierSimulators>['start']>[0];

/** Short durations for tests: a whole project runs in seconds; the installation is announced at once. */
export const TEST_PROJECT_SETTINGS = {
  qualification: { servicePostcodes: ['10'], requiredFields: ['phone'] },
  followUpAfter: '1 hour',
  advance: { percent: 30, after: 'contract_signed' },
  configurator: { linkValidFor: '1 hour', remindEvery: '1 hour', deadline: '1 hour' },
  deliveryMargin: '1 second',
  dueSoonBefore: '1 hour',
  signing: { deadline: '1 hour', remindEvery: '1 hour' },
  payment: { dueIn: '1 hour', dunning: ['1 hour'] },
  retry: { maximumAttempts: 2, initialInterval: '100 milliseconds', maximumInterval: '200 milliseconds' },
};

/**
 * Lead to installation as tests drive it, through the API and the customer's pages: producers on the supplier
 * simulator, the catalogue, a lead taken to the configurator or to a locked selection, payments, receipts.
 */
export function projectHelpers(ctx: () => ProjectTestContext) {
  /** The tenant's project settings and a crew (two jobs a day) whose job sheets go to `crewEmail`. */
  async function setUpTenant(crewEmail: string, settings: Record<string, unknown> = TEST_PROJECT_SETTINGS) {
    const saved = await ctx().admin.request('PUT', '/v1/settings/projects', { body: settings });
    expect(saved.status, saved.text).toBe(200);
    const crew = await ctx().admin.post('/v1/crews', {
      name: unique('Crew'),
      email: crewEmail,
      jobsPerDay: 2,
      weeklyCapacity: 10,
    });
    expect(crew.status, crew.text).toBe(200);
    return crew.body.crewId as string;
  }

  async function keyFor(roles: string[], subject: Record<string, string>) {
    const created = await ctx().admin.post('/v1/api-keys', {
      name: unique(roles.join('+')),
      roles,
      ...subject,
    });
    expect(created.status, created.text).toBe(201);
    return created.body.key as string;
  }

  /** A producer on the supplier simulator, through the admin API: by default it ships soon after it accepts. */
  async function registerProducer(options: SimulatorOptions = {}) {
    const simulator = await ctx().simulators.start({ schedule: { accepted: 100, shipped: 300 }, ...options });
    const code = unique('PRD');
    const response = await ctx().admin.request('PUT', `/v1/suppliers/${code}`, {
      body: {
        name: `Producer ${code}`,
        protocol: 'rest',
        baseUrl: simulator.url,
        credentials: SUPPLIER_CREDENTIALS,
        webhookSecret: SUPPLIER_WEBHOOK_SECRET,
        orderEmail: `orders+${code.toLowerCase()}@producer.example`,
        capabilities: { webhooks: true, cancellation: true },
        leadTime: '1 minute',
      },
    });
    expect(response.status, response.text).toBe(201);
    return { code, simulator };
  }

  /** Panels from one producer and inverters from another, each behaving as `options` say. */
  async function twoProducers(panelsFrom: SimulatorOptions = {}, invertersFrom: SimulatorOptions = {}) {
    const [panels, inverters] = await Promise.all([
      registerProducer(panelsFrom),
      registerProducer(invertersFrom),
    ]);
    const skus = { panels: unique('PNL'), inverters: unique('INV') };
    await catalogue(skus.panels, panels.code, 20_000, 'panel');
    await catalogue(skus.inverters, inverters.code, 150_000, 'inverter');
    return { skus, panels, inverters };
  }

  async function catalogue(sku: string, supplier: string, unitPrice: number, kind: 'panel' | 'inverter') {
    const saved = await ctx().admin.request('PUT', `/v1/catalogue/${sku}`, {
      body: {
        sku,
        kind,
        name: `${kind} ${sku}`,
        supplier,
        unitPrice,
        currency: 'EUR',
        leadTimeDays: 14,
        packOf: kind === 'panel' ? 2 : 1,
      },
    });
    expect(saved.status, saved.text).toBe(201);
  }

  function newLead(overrides: Record<string, unknown> = {}) {
    const leadId = unique('L');
    return {
      leadId,
      source: 'architect',
      customer: {
        name: 'Grace Hopper',
        email: `grace+${leadId.toLowerCase()}@example.com`,
        phone: '+49 30 1234567',
      },
      site: { street: 'Hauptstr. 1', postcode: '10115', city: 'Berlin', country: 'DE' },
      systemSizeKwp: 8,
      ...overrides,
    };
  }

  /** The newest configurator link sent to `email`, once more than `after` such emails have come. */
  async function configuratorLink(email: string, subject = /^Choose the panels/, after = 0) {
    const matching = () =>
      ctx().smtp.messages.filter(
        (m) => m.envelope.to.includes(email) && subject.test(m.parsed.subject ?? ''),
      );
    await ctx().smtp.waitFor(() => matching().length > after);
    const link = /(http:\/\/\S+\/configure\/\S+)/.exec(matching().at(-1)?.parsed.text ?? '')?.[1];
    if (!link) throw new Error(`no configurator link in the emails to ${email}`);
    return link;
  }

  /** The configurator's JSON endpoints behind a link (as the page's script calls them). */
  function configurator(link: string) {
    const url = new URL(link);
    const at = (path: string) => `${url.origin}${url.pathname}${path}${url.search}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(at(path), {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    return {
      page: () => fetch(link),
      draft: (lines: { sku: string; quantity: number }[]) => call('PUT', '/draft', { lines }),
      lock: () => call('POST', '/lock'),
      changeRequest: (lines: { sku: string; quantity: number }[], reason: string) =>
        call('POST', '/change-requests', { lines, reason }),
    };
  }

  async function pay(tenantSlug: string, invoiceKey: string, expected: number) {
    await waitForFlowRow(
      ctx().api.deps.db,
      `invoice:${tenantSlug}:${invoiceKey}`,
      (r) => r?.current_step === 'awaitPayment',
    );
    const invoice = await ctx()
      .api.deps.db.selectFrom('invoices')
      .selectAll()
      .where('tenant_id', '=', ctx().tenant.tenantId)
      .where('invoice_key', '=', invoiceKey)
      .executeTakeFirstOrThrow();
    expect(Number(invoice.total)).toBe(expected);
    await deliverStripeEvent(
      ctx().api,
      checkoutCompletedEvent(`evt_${invoiceKey}`, invoice, expected),
      ctx().stripeWebhookSecret,
    );
    return invoice.number;
  }

  async function waitForOrders(projectKey: string, count: number) {
    for (let tries = 0; tries < 300; tries++) {
      const orders = await ctx()
        .api.deps.db.selectFrom('supplier_orders')
        .select(['id', 'order_key', 'flow_id'])
        .where('tenant_id', '=', ctx().tenant.tenantId)
        .where('order_key', 'like', `${projectKey}.%`)
        .execute();
      if (orders.length >= count) return orders;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no ${count} orders for ${projectKey}`);
  }

  async function bookIn(order: { id: string; order_key: string; flow_id: string }) {
    await waitForFlowRow(ctx().api.deps.db, order.flow_id, (r) => r?.current_step === 'awaitReceipt');
    const lines = await ctx()
      .api.deps.db.selectFrom('supplier_order_lines')
      .select(['sku', 'quantity'])
      .where('order_id', '=', order.id)
      .execute();
    const booked = await ctx().warehouse.post(
      `/v1/supplier-orders/${encodeURIComponent(order.order_key)}/receipts`,
      {
        receiptId: `DN-${order.order_key}`,
        lines,
      },
    );
    expect(booked.status, booked.text).toBe(201);
  }

  async function chain(flowId: string) {
    const rows = await ctx()
      .api.deps.db.selectFrom('domain_events')
      .select(['type'])
      .where('tenant_id', '=', ctx().tenant.tenantId)
      .where('trace_id', '=', flowId)
      .execute();
    return rows.map((row) => row.type);
  }

  /** A coordinator's lead taken to the configurator: converted, signed, advance paid (unless not yet), link sent. */
  async function toConfigurator(
    overrides: Record<string, unknown> = {},
    options: { advanceFirst: boolean } = { advanceFirst: true },
  ) {
    const lead = newLead(overrides);
    const { email } = lead.customer;
    const registered = await ctx().coordinator.post('/v1/leads', lead);
    expect(registered.status, registered.text).toBe(201);
    const flowId: string = registered.body.flowId;
    await waitForFlowRow(ctx().api.deps.db, flowId, (r) => r?.current_step === 'convertToProject');
    expect((await ctx().coordinator.post(`/v1/leads/${lead.leadId}/convert`, CONTRACT)).status).toBe(201);
    const signing = await signingLinkFor(ctx().smtp, email);
    await submitSigningForm(ctx().api.deps.db, signing, {
      decision: 'sign',
      signerName: 'Grace Hopper',
      agree: 'yes',
    });
    if (options.advanceFirst) await pay(ctx().tenant.slug, `${lead.leadId}~advance`, 90_000);
    const link = await configuratorLink(email);
    return { lead, email, flowId, link, customerPage: configurator(link) };
  }

  /** …and on to a locked selection of 20 panels and an inverter. */
  async function toLock(
    skus: { panels: string; inverters: string },
    overrides: Record<string, unknown> = {},
  ) {
    const started = await toConfigurator(overrides);
    const { customerPage } = started;
    expect(
      (
        await customerPage.draft([
          { sku: skus.panels, quantity: 20 },
          { sku: skus.inverters, quantity: 1 },
        ])
      ).status,
    ).toBe(200);
    expect((await customerPage.lock()).status).toBe(200);
    return started;
  }

  async function emailsTo(address: string, subject: RegExp) {
    return ctx().smtp.messages.filter(
      (m) => m.envelope.to.includes(address) && subject.test(m.parsed.subject ?? ''),
    );
  }

  async function cancelFlow(flowId: string) {
    const cancelled = await ctx().coordinator.post(`${flowPath(flowId)}/cancel`, { reason: 'test over' });
    expect(cancelled.status, cancelled.text).toBe(202);
    await waitForFlowRow(ctx().api.deps.db, flowId, (r) => r?.state === 'cancelled');
  }

  const projectRow = (projectKey: string) =>
    ctx()
      .api.deps.db.selectFrom('projects')
      .selectAll()
      .where('tenant_id', '=', ctx().tenant.tenantId)
      .where('project_key', '=', projectKey)
      .executeTakeFirstOrThrow();

  return {
    setUpTenant,
    keyFor,
    registerProducer,
    twoProducers,
    catalogue,
    newLead,
    configuratorLink,
    configurator,
    pay,
    waitForOrders,
    bookIn,
    chain,
    toConfigurator,
    toLock,
    emailsTo,
    cancelFlow,
    projectRow,
  };
}
