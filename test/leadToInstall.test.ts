import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { startFlow } from '../api/startFlow.js';
import { saveCatalogueItem } from '../db/catalogue.js';
import { convertLead, createLead } from '../db/leads.js';
import { lockSelection, saveDraft } from '../db/panelSelections.js';
import { completeInstallation, startInstallation } from '../db/projects.js';
import { SYSTEM } from '../domain/flow.js';
import { leadToInstallFlow, projectNews } from '../domain/leadToInstall.js';
import { ProjectSettings } from '../domain/leadToInstall.schema.js';
import { createLogger } from '../runtime/logger.js';
import type { leadToInstall } from '../workflows/leadToInstall.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import {
  checkoutCompletedEvent,
  deliverStripeEvent,
  signingLinkFor,
  submitSigningForm,
  waitForFlowRow,
} from './helpers/flows.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { SUPPLIER_CREDENTIALS, SUPPLIER_WEBHOOK_SECRET, supplierSimulators } from './helpers/suppliers.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const WEBHOOK_SECRET = 'whsec_test_projects';
const simulators = supplierSimulators();
let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let worker: TestWorker;
let tenant: TestTenant;
let admin: ReturnType<typeof apiClient>;
let warehouse: ReturnType<typeof apiClient>;
let counter = 0;

beforeAll(async () => {
  [smtp, stripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  const taskQueue = `projects-${Date.now()}`;
  const env = {
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  api = await startTestApi({ env });
  const config = testConfig({ ...env, SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  worker = await startTestWorker({
    taskQueue,
    activities: createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') }),
  });
  tenant = await createTestTenant(api.deps.db);
  admin = apiClient(api.url, await tenant.key(['admin']));
  warehouse = apiClient(api.url, await tenant.key(['warehouse']));
});

afterAll(async () => {
  await simulators.stopAll();
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripeMock?.stop()]);
});

const unique = (prefix: string) => `${prefix}-${Date.now()}-${++counter}`;

const SETTINGS = ProjectSettings.parse({
  qualification: { servicePostcodes: ['10'], requiredFields: ['phone'] },
  followUpAfter: '1 hour',
  advance: { percent: 30, after: 'contract_signed' },
  configurator: { linkValidFor: '1 hour', remindEvery: '1 hour', deadline: '1 hour' },
  deliveryMargin: '1 second',
  dueSoonBefore: '2 minutes',
  signing: { deadline: '1 hour', remindEvery: '1 hour' },
  payment: { dueIn: '1 hour', dunning: ['1 hour'] },
  retry: { maximumAttempts: 2, initialInterval: '100 milliseconds', maximumInterval: '200 milliseconds' },
});

/** A producer on the supplier simulator, through the admin API: ships soon after it accepts. */
async function registerProducer() {
  const simulator = await simulators.start({ schedule: { accepted: 100, shipped: 300 } });
  const code = unique('PRD');
  const response = await admin.request('PUT', `/v1/suppliers/${code}`, {
    body: {
      name: `Producer ${code}`,
      protocol: 'rest',
      baseUrl: simulator.url,
      credentials: SUPPLIER_CREDENTIALS,
      webhookSecret: SUPPLIER_WEBHOOK_SECRET,
      orderEmail: `orders+${code.toLowerCase()}@producer.example`,
      capabilities: { webhooks: true },
      leadTime: '1 minute',
    },
  });
  expect(response.status, response.text).toBe(201);
  return code;
}

async function catalogue(sku: string, supplier: string, unitPrice: number, kind: 'panel' | 'inverter') {
  const saved = await saveCatalogueItem(api.deps.db, {
    tenantId: tenant.tenantId,
    item: {
      sku,
      kind,
      name: `${kind} ${sku}`,
      supplier,
      unitPrice,
      currency: 'EUR',
      leadTimeDays: 14,
      minPerSite: 0,
      packOf: kind === 'panel' ? 2 : 1,
      active: true,
    },
    actor: SYSTEM,
    requestId: randomUUID(),
  });
  expect(saved).toBeDefined();
}

async function events(flowId: string) {
  return api.deps.db
    .selectFrom('domain_events')
    .select(['type', 'entity_id', 'trace_id'])
    .where('tenant_id', '=', tenant.tenantId)
    .where('trace_id', '=', flowId)
    .orderBy('recorded_at')
    .execute();
}

describe('leadToInstall', () => {
  it('takes a lead to a closed project: contract, advance, configurator, two producers at once, crew, final invoice', async () => {
    const [panels, inverters] = await Promise.all([registerProducer(), registerProducer()]);
    const panelSku = unique('PNL');
    const inverterSku = unique('INV');
    await catalogue(panelSku, panels, 20_000, 'panel');
    await catalogue(inverterSku, inverters, 150_000, 'inverter');
    await api.deps.db
      .insertInto('crews')
      .values({
        tenant_id: tenant.tenantId,
        name: unique('Crew'),
        email: 'crew@installers.example',
        jobs_per_day: 2,
        weekly_capacity: 10,
      })
      .execute();

    const leadKey = unique('L');
    const leadId = randomUUID();
    const email = `grace+${leadKey.toLowerCase()}@example.com`;
    const customer = { name: 'Grace Hopper', email, phone: '+49 30 1234567' };
    const { flowId, created } = await startFlow<typeof leadToInstall>(api.deps, {
      definition: leadToInstallFlow,
      businessKey: leadKey,
      tenantId: tenant.tenantId,
      tenantSlug: tenant.slug,
      title: `Lead ${leadKey}`,
      customer: customer.name,
      input: {
        tenantId: tenant.tenantId,
        tenantSlug: tenant.slug,
        leadId,
        leadKey,
        customer,
        settings: SETTINGS,
      },
      records: (trx) =>
        createLead(trx, {
          id: leadId,
          tenantId: tenant.tenantId,
          flowId: `lead:${tenant.slug}:${leadKey}`,
          architectId: null,
          actor: SYSTEM,
          leadId: leadKey,
          source: 'website',
          customer,
          site: { street: 'Hauptstr. 1', postcode: '10115', city: 'Berlin', country: 'DE' },
        }),
    });
    expect(created).toBe(true);
    const handle = worker.client.workflow.getHandle(flowId);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.current_step === 'convertToProject');

    const proposal = {
      title: 'Rooftop solar, 8 kWp',
      currency: 'EUR',
      lines: [{ description: 'Installation and wiring', quantity: 1, unitPrice: 300_000 }],
    };
    const converted = await convertLead(api.deps.db, {
      tenantId: tenant.tenantId,
      leadKey,
      proposal,
      actor: SYSTEM,
    });
    expect(converted).toMatchObject({ result: 'converted', projectKey: leadKey });
    const again = await convertLead(api.deps.db, {
      tenantId: tenant.tenantId,
      leadKey,
      proposal,
      actor: SYSTEM,
    });
    expect(again).toMatchObject({ result: 'already' });
    if (converted.result !== 'converted') throw new Error('not converted');
    const { projectId } = converted;
    await handle.signal(projectNews, { kind: 'leadConverted' });

    const link = await signingLinkFor(smtp, email);
    expect(
      (
        await submitSigningForm(api.deps.db, link, {
          decision: 'sign',
          signerName: 'Grace Hopper',
          agree: 'yes',
        })
      ).status,
    ).toBe(200);

    const pay = async (kind: 'advance' | 'final', expected: number) => {
      const invoice = await waitForInvoice(`${leadKey}~${kind}`);
      expect(Number(invoice.total)).toBe(expected);
      await deliverStripeEvent(
        api,
        checkoutCompletedEvent(`evt_${leadKey}_${kind}`, invoice, expected),
        WEBHOOK_SECRET,
      );
    };
    const waitForInvoice = async (key: string) => {
      await waitForFlowRow(
        api.deps.db,
        `invoice:${tenant.slug}:${key}`,
        (r) => r?.current_step === 'awaitPayment',
      );
      return api.deps.db
        .selectFrom('invoices')
        .selectAll()
        .where('tenant_id', '=', tenant.tenantId)
        .where('invoice_key', '=', key)
        .executeTakeFirstOrThrow();
    };
    // 30 % of the contract.
    await pay('advance', 90_000);

    const configurator = await smtp.waitFor(
      (m) => m.envelope.to.includes(email) && /^Choose the panels/.test(m.parsed.subject ?? ''),
    );
    expect(configurator.parsed.text).toMatch(/\/configure\/[0-9a-f-]+\?expires=\d+&token=/);
    const draft = await saveDraft(api.deps.db, {
      tenantId: tenant.tenantId,
      projectId,
      lines: [
        { sku: panelSku, quantity: 20 },
        { sku: inverterSku, quantity: 1 },
      ],
      actor: { type: 'customer', id: email },
    });
    expect(draft).toMatchObject({ result: 'saved', total: 550_000 });
    expect(
      await lockSelection(api.deps.db, { tenantId: tenant.tenantId, projectId, actor: SYSTEM }),
    ).toMatchObject({
      result: 'locked',
    });
    await handle.signal(projectNews, { kind: 'selectionLocked' });

    // One order per producer, at once; the warehouse books each in when it has shipped.
    const orders = await waitForOrders(leadKey, 2);
    for (const order of orders) {
      await waitForFlowRow(api.deps.db, order.flow_id, (r) => r?.current_step === 'awaitReceipt');
      const lines = await api.deps.db
        .selectFrom('supplier_order_lines')
        .select(['sku', 'quantity'])
        .where('order_id', '=', order.id)
        .execute();
      const booked = await warehouse.post(
        `/v1/supplier-orders/${encodeURIComponent(order.order_key)}/receipts`,
        {
          receiptId: `DN-${order.order_key}`,
          lines,
        },
      );
      expect(booked.status, booked.text).toBe(201);
    }

    const crewMail = await smtp.waitFor(
      (m) => m.envelope.to.includes('crew@installers.example') && /^Job sheet/.test(m.parsed.subject ?? ''),
    );
    expect(crewMail.parsed.text).toContain(`20 × panel ${panelSku}`);
    await smtp.waitFor(
      (m) => m.envelope.to.includes(email) && /^Your installation on/.test(m.parsed.subject ?? ''),
    );

    expect(
      await startInstallation(api.deps.db, {
        tenantId: tenant.tenantId,
        projectKey: leadKey,
        crewId: null,
        actor: SYSTEM,
      }),
    ).toMatchObject({ result: 'recorded' });
    await handle.signal(projectNews, { kind: 'jobStarted' });
    expect(
      await completeInstallation(api.deps.db, {
        tenantId: tenant.tenantId,
        projectKey: leadKey,
        crewId: null,
        checklist: { panels: true, inverter: true, handover: true },
        actor: SYSTEM,
      }),
    ).toMatchObject({ result: 'recorded' });
    await handle.signal(projectNews, { kind: 'jobCompleted' });

    // Contract 3,000 + selection 5,500, less the advance of 900.
    await pay('final', 760_000);
    const result = await handle.result();
    expect(result).toMatchObject({ leadKey, outcome: 'closed', projectKey: leadKey, orders: 2 });
    expect(result.invoices).toHaveLength(2);

    const project = await api.deps.db
      .selectFrom('projects')
      .selectAll()
      .where('id', '=', projectId)
      .executeTakeFirstOrThrow();
    expect(project.state).toBe('CLOSED');
    const selection = await api.deps.db
      .selectFrom('panel_selections')
      .select(['state', 'version'])
      .where('project_id', '=', projectId)
      .execute();
    expect(selection).toEqual([{ state: 'INSTALLED', version: 1 }]);
    const chain = (await events(flowId)).map((e) => e.type);
    for (const type of [
      'lead.created',
      'lead.qualified',
      'lead.converted',
      'project.created',
      'project.confirmed',
      'panel.selection.locked',
      'logistics.delivery.dueSoon',
      'project.installation.started',
      'project.installation.completed',
      'project.closed',
    ])
      expect(
        chain.filter((type2) => type2 === type),
        type,
      ).toHaveLength(1);
    expect(chain.filter((type) => type === 'supplier.order.created')).toHaveLength(2);
    expect(chain.filter((type) => type === 'project.scheduled')).toHaveLength(2);
    const sent = await api.deps.db
      .selectFrom('emails')
      .select(['idempotency_key'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('to_address', '=', email)
      .execute();
    expect(new Set(sent.map((row) => row.idempotency_key)).size).toBe(sent.length);
    expect(smtp.messages.filter((m) => m.envelope.to.includes(email)).length).toBe(sent.length);
  }, 120_000);
});

async function waitForOrders(projectKey: string, count: number) {
  for (let tries = 0; tries < 200; tries++) {
    const orders = await api.deps.db
      .selectFrom('supplier_orders')
      .select(['id', 'order_key', 'flow_id'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('order_key', 'like', `${projectKey}.%`)
      .execute();
    if (orders.length >= count) return orders;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${count} orders for ${projectKey}`);
}
