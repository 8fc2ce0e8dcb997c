import { createHmac } from 'node:crypto';
import { Agent, request } from 'node:http';
import { sql } from 'kysely';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource } from '../db/analytics/sources.js';
import { signAfterShip } from '../integrations/couriers/aftership.js';
import { signWebhook } from '../integrations/suppliers/protocol.js';
import { apiClient, createTestTenant, startTestApi, type TestApi } from './helpers/api.js';
import { insertWebhookSupplier } from './helpers/suppliers.js';

const STRIPE_SECRET = 'whsec_test_sweep';
const CONNECT_KEY = 'docusign-connect-sweep-key-0123456789';
const COURIER_SECRET = 'courier-sweep-webhook-secret';
const SUPPLIER_SECRET = 'supplier-sweep-secret-0123456789';
const TENANT_TABLES = [
  'flows',
  'dashboard_snapshots',
  'console_bulk_actions',
  'domain_events',
  'emails',
  'payments',
  'invoices',
  'signature_envelopes',
  'api_keys',
  'suppliers',
  'supplier_orders',
  'leads',
  'projects',
  'catalogue_items',
  'panel_selections',
  'selection_change_requests',
  'crews',
  'architects',
  'automation_scenarios',
  'automation_steps',
  'companies',
  'company_contacts',
  'company_addresses',
  'couriers',
  'price_book_entries',
  'company_prices',
  'orders',
  'order_lines',
  'fulfillment_items',
  'shipments',
  'shipment_items',
  'courier_events',
  'status_sources',
  'status_groups',
  'source_statuses',
  'status_events',
  'analytics_orders',
  'work_calendars',
  'sla_limits',
  'status_cycles',
  'urgent_rules',
  'staff_users',
  'staff_sessions',
  'console_assignments',
];

let api: TestApi;
let key: string;
let tenantId: string;
let supplierId: string;
let crmSource: { id: string; secret: string };

beforeAll(async () => {
  api = await startTestApi({
    env: {
      STRIPE_WEBHOOK_SECRET: STRIPE_SECRET,
      DOCUSIGN_CONNECT_SECRET: CONNECT_KEY,
      COURIER_WEBHOOK_SECRET: COURIER_SECRET,
    },
  });
  const tenant = await createTestTenant(api.deps.db);
  tenantId = tenant.tenantId;
  key = await tenant.key(['admin']);
  supplierId = await insertWebhookSupplier(api.deps.db, tenantId, 'SWEEP', SUPPLIER_SECRET);
  const { source, webhookSecret } = await createSource(api.deps.db, api.deps.secrets, {
    tenantId,
    actor: { type: 'system', id: 'sweep' },
    requestId: 'sweep',
    kind: 'keycrm',
    name: 'Sweep CRM',
    baseUrl: 'http://127.0.0.1:9/v1',
    apiToken: 'sweep-token',
    timezone: 'UTC',
    allowedIps: [],
    active: true,
  });
  crmSource = { id: source.id, secret: webhookSecret };
});
afterAll(() => api?.stop());

interface BadRequest {
  path: string;
  body?: unknown;
  /** Sent as is (malformed JSON, a form). */
  raw?: string;
  headers?: Record<string, string>;
  fields: string[];
  /** 400 unless the request is refused for its media type. */
  status?: 415;
}

const courierEvent = JSON.stringify({
  ts: 1,
  event: 'tracking_update',
  event_id: 'not-a-uuid',
  msg: { tracking_number: 'JD0001', slug: 'dhl', tag: 'Teleported' },
});

const stripeSigner = new Stripe('sk_test_123');
const signedForStripe = (payload: string) => ({
  'stripe-signature': stripeSigner.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }),
});
const signedForConnect = (payload: string) => ({
  'x-docusign-signature-1': createHmac('sha256', CONNECT_KEY).update(payload).digest('base64'),
});
const long = 'x'.repeat(600);
const stripeEvent = JSON.stringify({ id: 'evt_sweep', type: 'checkout.session.completed' });
const connectMessage = JSON.stringify({ event: '', data: {} });
const supplierEvent = JSON.stringify({ id: 'evt_sweep_supplier', type: 'order.updated' });
// A date a person would read, but not ISO 8601: refused, never guessed at (it once answered 500 on every delivery).
const supplierEventLocalDate = JSON.stringify({
  id: 'evt_sweep_supplier',
  type: 'order.updated',
  created: '23/11/2026 10:00',
  data: { id: 'so_1', reference: 'PO-1', status: 'shipped', expectedShipDate: '23/11/2026' },
});
const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * One invalid request per operation in the OpenAPI document, and the fields its answer must name. An operation
 * added without a case here fails the sweep, so no route escapes it.
 */
const CASES: Record<string, BadRequest[] | 'takes no input'> = {
  'GET /healthz': 'takes no input',
  'GET /metrics': 'takes no input',
  'GET /readyz': 'takes no input',
  'GET /v1/me': 'takes no input',
  'GET /v1/flows': [
    { path: `/v1/flows?limit=0&state=asleep&q=${long}`, fields: ['query.limit', 'query.state', 'query.q'] },
    { path: `/v1/flows?cursor=${cursor(['1', 'x'])}`, fields: ['query.cursor'] },
  ],
  'GET /v1/flows/{flowId}': [{ path: `/v1/flows/${long}`, fields: ['path.flowId'] }],
  'GET /v1/flows/{flowId}/events': [{ path: `/v1/flows/${long}/events`, fields: ['path.flowId'] }],
  'POST /v1/flows/{flowId}/pause': [
    { path: '/v1/flows/f/pause', body: { reason: long }, fields: ['body.reason'] },
  ],
  'POST /v1/flows/{flowId}/resume': [
    { path: '/v1/flows/f/resume', body: { reason: 7 }, fields: ['body.reason'] },
  ],
  'POST /v1/flows/{flowId}/cancel': [
    { path: '/v1/flows/f/cancel', body: { reason: [] }, fields: ['body.reason'] },
  ],
  'POST /v1/flows/{flowId}/resolve': [
    { path: '/v1/flows/f/resolve', body: { action: 'dance' }, fields: ['body.action'] },
    { path: '/v1/flows/f/resolve', raw: '{"action":', fields: [] },
  ],
  'POST /v1/flows/proposal-to-payment': [
    {
      path: '/v1/flows/proposal-to-payment',
      body: { proposal: { proposalId: '', lines: [{ quantity: -1 }] }, payment: { dunning: ['never'] } },
      fields: [
        'body.proposal.proposalId',
        'body.proposal.title',
        'body.proposal.currency',
        'body.proposal.customer',
        'body.proposal.lines.0.description',
        'body.proposal.lines.0.quantity',
        'body.proposal.lines.0.unitPrice',
        'body.payment.dunning.0',
      ],
    },
    {
      path: '/v1/flows/proposal-to-payment',
      body: {
        proposal: {
          proposalId: 'P-1',
          title: 'Too much',
          currency: 'EUR',
          customer: { name: 'A', email: 'a@example.com' },
          lines: [{ description: 'Panels', quantity: 1_000_000, unitPrice: 10_000_000_000 }],
        },
        signing: { remindEvery: '1ms', deadline: '100000000 years' },
        retry: { initialInterval: '1ms' },
      },
      fields: [
        'body.proposal.lines.0',
        'body.proposal.lines',
        'body.signing.remindEvery',
        'body.signing.deadline',
        'body.retry.initialInterval',
      ],
    },
    {
      path: '/v1/flows/proposal-to-payment',
      raw: 'proposal=1',
      headers: { 'content-type': 'text/plain' },
      fields: [],
      status: 415,
    },
  ],
  'POST /v1/invoices/{number}/payments': [
    {
      path: '/v1/invoices/INV-1/payments',
      body: { amount: 1.5, currency: 'EUR', reference: 'r' },
      fields: ['path.number'],
    },
    {
      path: '/v1/invoices/INV-2026-000001/payments',
      body: { amount: 0, currency: 'euro', receivedAt: 'yesterday' },
      fields: ['body.amount', 'body.currency', 'body.reference', 'body.receivedAt'],
    },
  ],
  'POST /webhooks/stripe': [
    {
      path: '/webhooks/stripe',
      raw: stripeEvent,
      headers: signedForStripe(stripeEvent),
      fields: ['body.created', 'body.data'],
    },
  ],
  'POST /webhooks/esign/{provider}': [
    {
      path: '/webhooks/esign/docusign',
      raw: connectMessage,
      headers: signedForConnect(connectMessage),
      fields: ['body.event', 'body.data.envelopeId'],
    },
    {
      path: '/webhooks/esign/hellosign',
      raw: JSON.stringify({ event: 'envelope-completed', data: { envelopeId: 'e' } }),
      headers: signedForConnect(JSON.stringify({ event: 'envelope-completed', data: { envelopeId: 'e' } })),
      fields: ['path.provider'],
    },
  ],
  'GET /v1/suppliers': 'takes no input',
  'GET /v1/suppliers/{code}': [{ path: `/v1/suppliers/${'x'.repeat(40)}`, fields: ['path.code'] }],
  'PUT /v1/suppliers/{code}': [
    {
      path: '/v1/suppliers/SWEEP-2',
      body: { protocol: 'fax', orderEmail: 'nope', pollEvery: 'often' },
      fields: ['body.name', 'body.protocol', 'body.orderEmail', 'body.pollEvery'],
    },
  ],
  'GET /v1/supplier-orders': [
    { path: '/v1/supplier-orders?limit=0&state=LOST', fields: ['query.limit', 'query.state'] },
  ],
  'GET /v1/supplier-orders/{orderId}': [{ path: '/v1/supplier-orders/bad%20id!', fields: ['path.orderId'] }],
  'POST /v1/supplier-orders': [
    {
      path: '/v1/supplier-orders',
      body: { orderId: '', supplier: '', lines: [{ quantity: 0 }] },
      fields: [
        'body.orderId',
        'body.supplier',
        'body.lines.0.sku',
        'body.lines.0.description',
        'body.lines.0.quantity',
      ],
    },
    {
      path: '/v1/supplier-orders',
      body: { orderId: 'PO-SWEEP', supplier: 'NOBODY', lines: [{ sku: 'A', description: 'a', quantity: 1 }] },
      fields: ['body.supplier'],
    },
  ],
  'POST /v1/supplier-orders/{orderId}/cancel': [
    { path: '/v1/supplier-orders/PO-1/cancel', body: { reason: '' }, fields: ['body.reason'] },
  ],
  'POST /v1/supplier-orders/{orderId}/reorder': [
    {
      path: '/v1/supplier-orders/PO-1/reorder',
      body: { supplier: 'no spaces please' },
      fields: ['body.supplier', 'body.note'],
    },
  ],
  'POST /v1/supplier-orders/{orderId}/receipts': [
    {
      path: '/v1/supplier-orders/PO-1/receipts',
      body: { receiptId: '', lines: [{ sku: '', quantity: -1 }] },
      fields: ['body.receiptId', 'body.lines.0.sku', 'body.lines.0.quantity'],
    },
  ],
  'POST /webhooks/suppliers/{supplierId}': [
    {
      path: '/webhooks/suppliers/{supplierId}',
      raw: supplierEvent,
      headers: { 'supplier-signature': signWebhook(SUPPLIER_SECRET, supplierEvent) },
      fields: ['body.created', 'body.data'],
    },
    {
      path: '/webhooks/suppliers/{supplierId}',
      raw: supplierEventLocalDate,
      headers: { 'supplier-signature': signWebhook(SUPPLIER_SECRET, supplierEventLocalDate) },
      fields: ['body.created', 'body.data.expectedShipDate'],
    },
  ],
  'GET /v1/invoices/{number}': [{ path: '/v1/invoices/INV-1', fields: ['path.number'] }],
  'GET /v1/payments': [{ path: '/v1/payments?state=lost&limit=0', fields: ['query.state', 'query.limit'] }],
  'POST /v1/payments/{paymentId}/apply': [
    {
      path: '/v1/payments/p-1/apply',
      body: { invoiceNumber: 'INV-2026-000001' },
      fields: ['path.paymentId'],
    },
    {
      path: '/v1/payments/00000000-0000-4000-8000-000000000000/apply',
      body: { invoiceNumber: 'INV-1' },
      fields: ['body.invoiceNumber'],
    },
  ],
  'POST /v1/payments/{paymentId}/refund': [
    { path: '/v1/payments/p-1/refund', body: {}, fields: ['path.paymentId'] },
    {
      path: '/v1/payments/00000000-0000-4000-8000-000000000000/refund',
      body: { note: long },
      fields: ['body.note'],
    },
  ],
  'GET /pay/{invoiceId}': [{ path: '/pay/INV-2026-000001?token=t', fields: ['path.invoiceId'] }],
  'GET /paid/{number}': [{ path: `/paid/${long}`, fields: ['path.number'] }],
  'GET /sign/{envelopeId}': [{ path: '/sign/env-1', fields: ['query.expires', 'query.token'] }],
  'POST /sign/{envelopeId}': [
    {
      path: '/sign/env-1?expires=1&token=t',
      raw: 'decision=maybe',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      fields: ['form.decision', 'form.documentSha256'],
    },
  ],
  'GET /v1/settings/projects': 'takes no input',
  'PUT /v1/settings/projects': [
    {
      path: '/v1/settings/projects',
      body: {
        advance: { percent: 101, after: 'never' },
        dueSoonBefore: 'soon',
        qualification: { minSystemKwp: -1 },
      },
      fields: [
        'body.advance.percent',
        'body.advance.after',
        'body.dueSoonBefore',
        'body.qualification.minSystemKwp',
      ],
    },
  ],
  'GET /v1/catalogue': 'takes no input',
  'PUT /v1/catalogue/{sku}': [
    { path: '/v1/catalogue/bad%20sku!', body: {}, fields: ['path.sku'] },
    {
      path: '/v1/catalogue/X',
      body: { sku: 'X', kind: 'roof', unitPrice: -1, currency: 'eur' },
      fields: ['body.kind', 'body.unitPrice', 'body.currency', 'body.name', 'body.supplier'],
    },
    {
      path: '/v1/catalogue/PNL-1',
      body: {
        sku: 'PNL-2',
        kind: 'panel',
        name: 'Panel',
        supplier: 'NOBODY',
        unitPrice: 100,
        currency: 'EUR',
        leadTimeDays: 1,
      },
      fields: ['body.sku'],
    },
    {
      path: '/v1/catalogue/PNL-1',
      body: {
        sku: 'PNL-1',
        kind: 'panel',
        name: 'Panel',
        supplier: 'NOBODY',
        unitPrice: 100,
        currency: 'EUR',
        leadTimeDays: 1,
        minPerSite: 5,
        maxPerSite: 2,
      },
      fields: ['body.maxPerSite'],
    },
    {
      path: '/v1/catalogue/PNL-1',
      body: {
        sku: 'PNL-1',
        kind: 'panel',
        name: 'Panel',
        supplier: 'NOBODY',
        unitPrice: 100,
        currency: 'EUR',
        leadTimeDays: 1,
      },
      fields: ['body.supplier'],
    },
  ],
  'GET /v1/crews': 'takes no input',
  'POST /v1/crews': [
    {
      path: '/v1/crews',
      body: { name: '', email: 'x', jobsPerDay: 0 },
      fields: ['body.name', 'body.email', 'body.jobsPerDay', 'body.weeklyCapacity'],
    },
  ],
  'GET /v1/architects': 'takes no input',
  'POST /v1/architects': [
    { path: '/v1/architects', body: { email: 'nope' }, fields: ['body.name', 'body.email'] },
  ],
  'GET /v1/leads': [
    {
      path: '/v1/leads?state=MAYBE&limit=0&before=yesterday',
      fields: ['query.state', 'query.limit', 'query.before'],
    },
  ],
  'GET /v1/leads/{leadId}': [{ path: '/v1/leads/bad%20id!', fields: ['path.leadId'] }],
  'POST /v1/leads': [
    {
      path: '/v1/leads',
      body: {
        leadId: 'L 1',
        source: 'rumour',
        customer: { name: '', email: 'x', phone: 'call me' },
        site: { street: 'Hauptstr. 1', postcode: '10115', city: 'Berlin', country: 'Germany' },
        systemSizeKwp: 0,
      },
      fields: [
        'body.leadId',
        'body.source',
        'body.customer.name',
        'body.customer.email',
        'body.customer.phone',
        'body.site.country',
        'body.systemSizeKwp',
      ],
    },
    {
      path: '/v1/leads',
      body: {
        leadId: 'L-1',
        source: 'website',
        customer: { name: 'Ada', email: 'ada@example.com' },
        site: { street: 'Hauptstr. 1', postcode: '10115', city: 'Berlin', country: 'DE' },
        architectId: '00000000-0000-4000-8000-000000000000',
      },
      fields: ['body.architectId'],
    },
  ],
  'POST /v1/leads/{leadId}/convert': [
    {
      path: '/v1/leads/L-1/convert',
      body: { title: '', currency: 'euro', lines: [] },
      fields: ['body.title', 'body.currency', 'body.lines'],
    },
  ],
  'POST /v1/leads/{leadId}/lose': [
    { path: '/v1/leads/bad%20id!/lose', body: { reason: 'no' }, fields: ['path.leadId'] },
    { path: '/v1/leads/L-1/lose', body: { reason: '' }, fields: ['body.reason'] },
  ],
  'GET /v1/jobs': 'takes no input',
  'POST /v1/jobs/{projectId}/start': [{ path: '/v1/jobs/bad%20id!/start', fields: ['path.projectId'] }],
  'POST /v1/jobs/{projectId}/complete': [
    {
      path: '/v1/jobs/P-1/complete',
      body: { checklist: { panels: 'yes' } },
      fields: ['body.checklist.panels'],
    },
  ],
  'POST /v1/jobs/{projectId}/problems': [
    { path: '/v1/jobs/P-1/problems', body: { description: '' }, fields: ['body.description'] },
  ],
  'GET /configure/{projectId}': [
    { path: '/configure/not-a-project?expires=1&token=t', fields: ['path.projectId'] },
    { path: '/configure/00000000-0000-4000-8000-000000000000', fields: ['query.expires', 'query.token'] },
  ],
  'PUT /configure/{projectId}/draft': [
    {
      path: '/configure/00000000-0000-4000-8000-000000000000/draft?expires=1&token=t',
      body: { lines: [{ sku: '', quantity: -1 }] },
      fields: ['body.lines.0.sku', 'body.lines.0.quantity'],
    },
  ],
  'POST /configure/{projectId}/lock': [
    {
      path: '/configure/00000000-0000-4000-8000-000000000000/lock',
      fields: ['query.expires', 'query.token'],
    },
  ],
  'POST /configure/{projectId}/change-requests': [
    {
      path: '/configure/00000000-0000-4000-8000-000000000000/change-requests?expires=1&token=t',
      body: { lines: [{ sku: 'PNL', quantity: 0 }], reason: '' },
      fields: ['body.lines', 'body.reason'],
    },
  ],
  'GET /v1/automation-scenarios': 'takes no input',
  'PUT /v1/automation-scenarios/{scenario}': [
    { path: '/v1/automation-scenarios/Bad-Name', body: {}, fields: ['path.scenario'] },
    {
      path: '/v1/automation-scenarios/sensor_x',
      body: { operations: ['dance'], maxAttempts: 0, retryDelaySeconds: 0, timeoutSeconds: 0 },
      fields: [
        'body.operations.0',
        'body.maxAttempts',
        'body.retryDelaySeconds',
        'body.timeoutSeconds',
        'body.fallbackDescription',
      ],
    },
  ],
  'POST /v1/automation-steps': [
    {
      path: '/v1/automation-steps',
      body: { shipmentItemId: 'item 1', scenario: 'X', device: { serial: '' } },
      fields: ['body.shipmentItemId', 'body.scenario', 'body.device.serial', 'body.device.model'],
    },
    {
      path: '/v1/automation-steps',
      body: {
        shipmentItemId: 'ITEM-1',
        scenario: 'sensor_nobody_configured',
        device: { serial: 'S', model: 'M', companyId: 'C', assetId: 'A' },
      },
      fields: ['body.scenario'],
    },
  ],
  'GET /v1/automation-steps': [
    {
      path: '/v1/automation-steps?state=broken&limit=0&shipmentId=x',
      fields: ['query.state', 'query.limit', 'query.shipmentId'],
    },
  ],
  'GET /v1/automation-steps/{stepId}': [{ path: '/v1/automation-steps/nope', fields: ['path.stepId'] }],
  'POST /v1/automation-steps/{stepId}/retry': [
    {
      path: '/v1/automation-steps/00000000-0000-4000-8000-000000000000/retry',
      body: { device: { serial: '' } },
      fields: ['body.device.serial'],
    },
  ],
  'POST /v1/automation-steps/{stepId}/fallback': [
    {
      path: '/v1/automation-steps/00000000-0000-4000-8000-000000000000/fallback',
      body: { notes: '' },
      fields: ['body.notes'],
    },
  ],
  'PUT /v1/companies/{companyId}': [
    { path: '/v1/companies/bad%20id!', body: { name: 'x' }, fields: ['path.companyId'] },
    { path: '/v1/companies/ACME', body: { name: '' }, fields: ['body.name'] },
  ],
  'GET /v1/companies/{companyId}': [{ path: '/v1/companies/bad%20id!', fields: ['path.companyId'] }],
  'POST /v1/companies/{companyId}/contacts': [
    {
      path: '/v1/companies/ACME/contacts',
      body: { name: '', email: 'x', roles: ['boss'], primaryFor: ['billing'] },
      fields: ['body.name', 'body.email', 'body.roles.0'],
    },
  ],
  'POST /v1/companies/{companyId}/addresses': [
    {
      path: '/v1/companies/ACME/addresses',
      body: { label: '', street: '', postcode: '10115', city: 'Berlin', country: 'Germany' },
      fields: ['body.label', 'body.street', 'body.country'],
    },
  ],
  'GET /v1/couriers': 'takes no input',
  'GET /v1/analytics/sources': 'takes no input',
  'POST /v1/analytics/sources': [
    {
      path: '/v1/analytics/sources',
      body: {
        kind: 'salesforce',
        name: '',
        baseUrl: 'ftp://crm.example',
        apiToken: 'x',
        timezone: 'Nowhere/Land',
        allowedIps: ['999.1.1.1'],
      },
      fields: [
        'body.kind',
        'body.name',
        'body.baseUrl',
        'body.apiToken',
        'body.timezone',
        'body.allowedIps.0',
      ],
    },
  ],
  'PUT /v1/analytics/sources/{sourceId}': [
    { path: '/v1/analytics/sources/not-a-uuid', body: {}, fields: ['path.sourceId'] },
    {
      path: '/v1/analytics/sources/{crmSourceId}',
      body: { timezone: 'Mars/Base', active: 'yes' },
      fields: ['body.timezone', 'body.active'],
    },
  ],
  'GET /v1/analytics/orders': [
    {
      path: '/v1/analytics/orders?source=x&urgent=maybe&sla=red&limit=0',
      fields: ['query.source', 'query.urgent', 'query.sla', 'query.limit'],
    },
    { path: '/v1/analytics/orders?cursor=nonsense', fields: ['query.cursor'] },
  ],
  'GET /v1/analytics/orders/{orderId}/timeline': [
    { path: '/v1/analytics/orders/nope/timeline', fields: ['path.orderId'] },
  ],
  'PUT /v1/analytics/orders/{orderId}/override': [
    {
      path: '/v1/analytics/orders/nope/override',
      body: { urgent: null, slaProfile: null },
      fields: ['path.orderId'],
    },
    {
      path: '/v1/analytics/orders/00000000-0000-4000-8000-000000000000/override',
      body: { urgent: 'yes', slaProfile: 'VIP!' },
      fields: ['body.urgent', 'body.slaProfile'],
    },
  ],
  'GET /v1/analytics/kpis': [
    { path: '/v1/analytics/kpis?from=yesterday&period=year', fields: ['query.from', 'query.period'] },
    { path: '/v1/analytics/kpis?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', fields: ['query.from'] },
  ],
  'GET /v1/analytics/dicts/statuses': [
    { path: '/v1/analytics/dicts/statuses?source=x', fields: ['query.source'] },
  ],
  'GET /v1/stream/orders': [
    { path: '/v1/stream/orders?source=x', fields: ['query.source'] },
    { path: '/v1/stream/orders', headers: { 'last-event-id': 'abc' }, fields: ['header.last-event-id'] },
  ],
  ...Object.fromEntries(
    (
      [
        [
          'working-hours',
          { calendars: [{ groupId: '', timezone: 'UTC', week: {} }] },
          ['body.calendars.0.groupId'],
        ],
        ['sla', { nearFraction: 0, profiles: [] }, ['body.nearFraction']],
        [
          'cycles',
          { cycles: [{ code: 'x', name: 'X', start: { kind: 'group' }, end: { kind: 'group', ref: '5' } }] },
          ['body.cycles.0.start.ref'],
        ],
        ['urgent-rules', { rules: [{ match: 'sku', value: '' }] }, ['body.rules.0.value']],
      ] as const
    ).flatMap(([part, body, fields]) => [
      [
        `GET /v1/analytics/sources/{sourceId}/settings/${part}`,
        [{ path: `/v1/analytics/sources/x/settings/${part}`, fields: ['path.sourceId'] }],
      ],
      [
        `PUT /v1/analytics/sources/{sourceId}/settings/${part}`,
        [
          { path: `/v1/analytics/sources/x/settings/${part}`, body, fields: ['path.sourceId'] },
          { path: `/v1/analytics/sources/{crmSourceId}/settings/${part}`, body, fields: [...fields] },
        ],
      ],
    ]),
  ),
  'POST /webhooks/crm/keycrm/{sourceId}': [
    {
      path: '/webhooks/crm/keycrm/{crmSourceId}?secret={crmSecret}',
      body: { event: 'order.change_order_status', context: { id: 'x' } },
      fields: ['body.context.id', 'body.context.status_id', 'body.context.status_changed_at'],
    },
  ],
  'PUT /v1/couriers/{code}': [
    { path: '/v1/couriers/Bad%20Code', body: {}, fields: ['path.code'] },
    {
      path: '/v1/couriers/fastco',
      body: { code: 'fastco', name: '', trackingUrlTemplate: 'http://x', adapter: 'pigeon' },
      fields: ['body.name', 'body.trackingUrlTemplate', 'body.adapter'],
    },
  ],
  'PUT /v1/price-book/{sku}': [
    { path: '/v1/price-book/bad%20sku', body: {}, fields: ['path.sku'] },
    {
      path: '/v1/price-book/SENSOR-1',
      body: { region: 'no region!', currency: 'euro', name: '', unitPrice: -1, stripePriceId: 'prod_1' },
      fields: ['body.region', 'body.currency', 'body.name', 'body.unitPrice', 'body.stripePriceId'],
    },
  ],
  'PUT /v1/companies/{companyId}/prices/{sku}': [
    { path: '/v1/companies/ACME/prices/bad%20sku', body: {}, fields: ['path.sku'] },
    {
      path: '/v1/companies/ACME/prices/SENSOR-1',
      body: { currency: 'EUR', unitPrice: 1.5, agreement: '' },
      fields: ['body.unitPrice', 'body.agreement'],
    },
  ],
  'POST /v1/orders': [
    {
      path: '/v1/orders',
      body: {
        companyId: 'ACME',
        billingContactId: 'nobody',
        currency: 'EUR',
        paymentTerms: 'later',
        lines: [
          { sku: 'SENSOR-1', quantity: 0 },
          { sku: 'X', quantity: 1, bespoke: { unitPrice: 5 } },
        ],
      },
      fields: [
        'body.billingContactId',
        'body.paymentTerms',
        'body.lines.0.quantity',
        'body.lines.1.bespoke.description',
        'body.lines.1.bespoke.notes',
      ],
    },
    {
      path: '/v1/orders',
      body: {
        companyId: 'NO-SUCH-COMPANY',
        billingContactId: '00000000-0000-4000-8000-000000000000',
        currency: 'EUR',
        lines: [{ sku: 'SENSOR-1', quantity: 1 }],
      },
      fields: ['body.companyId'],
    },
  ],
  'GET /v1/orders/{orderId}': [{ path: '/v1/orders/nope', fields: ['path.orderId'] }],
  'POST /v1/orders/{orderId}/checkout': [{ path: '/v1/orders/nope/checkout', fields: ['path.orderId'] }],
  'POST /v1/orders/{orderId}/confirm': [{ path: '/v1/orders/nope/confirm', fields: ['path.orderId'] }],
  'POST /v1/orders/{orderId}/invoice': [{ path: '/v1/orders/nope/invoice', fields: ['path.orderId'] }],
  'POST /v1/orders/{orderId}/shipments': [
    { path: '/v1/orders/nope/shipments', body: {}, fields: ['path.orderId'] },
    {
      path: '/v1/orders/00000000-0000-4000-8000-000000000000/shipments',
      body: {
        destination: { addressId: '00000000-0000-4000-8000-000000000000', address: { street: '' } },
        items: [{ line: -1, quantity: 0, automation: [{ scenario: 'Bad Scenario', device: {} }] }],
      },
      fields: [
        'body.destination.address.street',
        'body.items.0.line',
        'body.items.0.quantity',
        'body.items.0.automation.0.scenario',
        'body.items.0.automation.0.device.serial',
      ],
    },
  ],
  'GET /v1/shipments/{shipmentId}': [{ path: '/v1/shipments/nope', fields: ['path.shipmentId'] }],
  'POST /v1/shipments/{shipmentId}/dispatch': [
    { path: '/v1/shipments/nope/dispatch', body: {}, fields: ['path.shipmentId'] },
    {
      path: '/v1/shipments/00000000-0000-4000-8000-000000000000/dispatch',
      body: { courierCode: 'DHL Express', trackingNumber: '1' },
      fields: ['body.courierCode', 'body.trackingNumber'],
    },
  ],
  'POST /v1/shipments/{shipmentId}/cancel': [
    { path: '/v1/shipments/nope/cancel', body: { reason: 'x' }, fields: ['path.shipmentId'] },
    {
      path: '/v1/shipments/00000000-0000-4000-8000-000000000000/cancel',
      body: { reason: '' },
      fields: ['body.reason'],
    },
  ],
  'GET /v1/shipments/{shipmentId}/timeline': [
    { path: '/v1/shipments/nope/timeline', fields: ['path.shipmentId'] },
  ],
  'POST /webhooks/couriers/aftership': [
    {
      path: '/webhooks/couriers/aftership',
      raw: courierEvent,
      headers: { 'aftership-hmac-sha256': signAfterShip(COURIER_SECRET, courierEvent) },
      fields: ['body.event_id', 'body.msg.tag'],
    },
  ],
  'GET /v1/staff': 'takes no input',
  'POST /v1/staff': [
    {
      path: '/v1/staff',
      body: { email: 'not an address', name: '', roles: ['architect'] },
      fields: ['body.email', 'body.name', 'body.architectId'],
    },
  ],
  'GET /v1/api-keys': 'takes no input',
  'POST /v1/api-keys': [
    { path: '/v1/api-keys', body: { name: '', roles: ['king'] }, fields: ['body.name', 'body.roles.0'] },
  ],
  'POST /v1/api-keys/{keyId}/revoke': [{ path: '/v1/api-keys/nope/revoke', fields: ['path.keyId'] }],
  'POST /v1/api-keys/{keyId}/rotate': [
    {
      path: '/v1/api-keys/00000000-0000-4000-8000-000000000000/rotate',
      body: { overlapSeconds: -1, expiresAt: 'soon' },
      fields: ['body.overlapSeconds', 'body.expiresAt'],
    },
  ],
  'POST /codec/encode': [
    {
      path: '/codec/encode',
      body: { payloads: [{ data: 'not base64!' }] },
      fields: ['body.payloads.0.data'],
    },
  ],
  'POST /codec/decode': [{ path: '/codec/decode', body: { payloads: 'all' }, fields: ['body.payloads'] }],
  'GET /codec/session': 'takes no input',
  'POST /codec/session': [
    {
      path: '/codec/session',
      raw: 'secret=x',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      fields: ['form.key'],
    },
  ],
};

/**
 * What the sweep could have written: its tenant's rows, and receipts of the webhook events it sent. (Other test
 * files write to the same database at the same time, so whole-table counts would not say.)
 */
async function rowCounts() {
  const counts: Record<string, number> = {};
  for (const table of TENANT_TABLES) {
    const { rows } = await sql<{
      n: string;
    }>`select count(*) as n from ${sql.table(table)} where tenant_id = ${tenantId}`.execute(api.deps.db);
    counts[table] = Number(rows[0]?.n);
  }
  const receipts = await api.deps.db
    .selectFrom('webhook_receipts')
    .select('id')
    .where('external_id', 'in', ['evt_sweep', 'e/envelope-completed', 'evt_sweep_supplier'])
    .execute();
  counts.webhook_receipts = receipts.length;
  return counts;
}

describe('every route', () => {
  it('answers invalid input with 400 problem+json naming each bad field, and writes nothing', async () => {
    const document = (await apiClient(api.url).get('/openapi.json')).body;
    const operations = Object.entries(document.paths as Record<string, object>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(Object.keys(CASES).sort());

    const before = await rowCounts();
    const client = apiClient(api.url, key);
    for (const [operation, cases] of Object.entries(CASES)) {
      if (cases === 'takes no input') continue;
      const method = operation.split(' ')[0] ?? 'GET';
      for (const bad of cases) {
        const path = bad.path
          .replace('{supplierId}', supplierId)
          .replace('{crmSourceId}', crmSource.id)
          .replace('{crmSecret}', crmSource.secret);
        const res = await client.request(method, path, {
          body: bad.raw ?? bad.body,
          headers: {
            ...(bad.raw === undefined ? {} : { 'content-type': 'application/json' }),
            ...bad.headers,
          },
        });
        const label = `${operation} ${bad.raw ?? JSON.stringify(bad.body ?? '')}`.slice(0, 120);
        expect(res.status, label).toBe(bad.status ?? 400);
        expect(res.headers.get('content-type'), label).toBe('application/problem+json');
        expect(res.body.detail, label).toEqual(expect.any(String));
        const named = (res.body.errors ?? []).map((e: { field: string }) => e.field);
        expect(named.sort(), label).toEqual(expect.arrayContaining(bad.fields));
        if (bad.fields.length > 0) expect(named.length, label).toBeGreaterThanOrEqual(bad.fields.length);
      }
    }
    expect(await rowCounts()).toEqual(before);
  });

  it('under /v1 refuses a request without a key with 401 problem+json', async () => {
    const document = (await apiClient(api.url).get('/openapi.json')).body;
    for (const [path, methods] of Object.entries(document.paths as Record<string, object>)) {
      if (!path.startsWith('/v1/')) continue;
      for (const method of Object.keys(methods)) {
        const res = await apiClient(api.url).request(method.toUpperCase(), path.replace(/\{[^}]+\}/g, 'x'), {
          body: method === 'get' ? undefined : {},
        });
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
      }
    }
  });

  it('refuses a body over 1 MiB with 413 problem+json before reading it, and writes nothing', async () => {
    const before = await rowCounts();
    const huge = JSON.stringify({ proposal: { title: 'x'.repeat(2 * 1024 * 1024) } });
    for (const path of [
      '/v1/flows/proposal-to-payment',
      '/v1/supplier-orders',
      '/webhooks/stripe',
      '/webhooks/esign/docusign',
      `/webhooks/suppliers/${supplierId}`,
      '/webhooks/couriers/aftership',
      `/webhooks/crm/keycrm/${crmSource.id}?secret=${crmSource.secret}`,
    ]) {
      const res = await postWithoutWaiting(`${api.url}${path}`, huge);
      expect(res.status, path).toBe(413);
      expect(res.contentType).toBe('application/problem+json');
    }
    expect(await rowCounts()).toEqual(before);
  });
});

describe('a refused body', () => {
  it('closes its connection, so a keep-alive client sends its next request on a new one', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (path: string, body?: string) =>
      new Promise<{ status?: number; connection?: string }>((resolve, reject) => {
        let answered = false;
        const req = request(
          `${api.url}${path}`,
          {
            agent,
            method: body ? 'POST' : 'GET',
            headers: body ? { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } : {},
          },
          (res) => {
            answered = true;
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode, connection: res.headers.connection }));
          },
        );
        // Writing the rest of a refused body may fail once the server has answered: that is the point.
        req.on('error', (error) => (answered ? undefined : reject(error)));
        req.end(body);
      });
    try {
      const huge = JSON.stringify({ proposal: { title: 'x'.repeat(2 * 1024 * 1024) } });
      expect(await send('/v1/flows/proposal-to-payment', huge)).toMatchObject({
        status: 413,
        connection: 'close',
      });
      expect((await send('/healthz')).status).toBe(200);
      expect((await send('/healthz')).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});

/**
 * Announces a body of this size and waits for the answer before sending it: the API must refuse an oversized
 * body from its length alone, without reading it.
 */
function postWithoutWaiting(url: string, body: string): Promise<{ status: number; contentType?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: `Bearer ${key}`,
      },
    });
    req.on('response', (res) => {
      resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] });
      res.resume();
      req.destroy();
    });
    req.on('error', (error) => {
      if (!('code' in error) || !['EPIPE', 'ECONNRESET'].includes(String(error.code))) reject(error);
    });
    req.flushHeaders();
  });
}
