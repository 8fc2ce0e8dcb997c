import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../../integrations/suppliers/protocol.js';
import { apiClient, createTestTenant, startTestApi, type TestApi } from '../helpers/api.js';
import { insertWebhookSupplier } from '../helpers/suppliers.js';

const RUNS = Number(process.env.CHAOS_RUNS ?? 300);
const STRIPE_SECRET = 'whsec_test_fuzz';
const CONNECT_KEY = 'docusign-connect-fuzz-key-0123456789';
const SUPPLIER_SECRET = 'supplier-fuzz-secret-0123456789';
const stripe = new Stripe('sk_test_123');

let api: TestApi;
let key: string;
let tenantId: string;
let supplierId: string;

beforeAll(async () => {
  api = await startTestApi({
    env: { STRIPE_WEBHOOK_SECRET: STRIPE_SECRET, DOCUSIGN_CONNECT_SECRET: CONNECT_KEY },
  });
  const tenant = await createTestTenant(api.deps.db);
  tenantId = tenant.tenantId;
  key = await tenant.key(['admin']);
  supplierId = await insertWebhookSupplier(api.deps.db, tenantId, 'FUZZ', SUPPLIER_SECRET);
});
afterAll(() => api?.stop());

/** A valid body for each route; the fuzzer breaks one leaf of it at a time, or throws it away entirely. */
const ROUTES: {
  path: string;
  method?: 'PUT';
  template: unknown;
  sign?: (body: string) => Record<string, string>;
}[] = [
  {
    path: '/v1/flows/proposal-to-payment',
    template: {
      proposal: {
        proposalId: 'P-FUZZ',
        title: 'Fuzz',
        currency: 'EUR',
        customer: { name: 'Fuzz Customer', email: 'fuzz@example.com' },
        lines: [{ description: 'Panel', quantity: 1, unitPrice: 100 }],
      },
    },
  },
  {
    path: '/v1/invoices/INV-2026-000001/payments',
    template: { amount: 100, currency: 'EUR', reference: 'R-1' },
  },
  { path: '/v1/flows/proposal%3Afuzz%3AP-1/resolve', template: { action: 'retry' } },
  {
    path: '/webhooks/stripe',
    // Stripe's objects are Stripe's to shape: only the event around them is checked.
    template: { id: 'evt_fuzz', type: 'checkout.session.completed', created: 1, data: { object: {} } },
    sign: (payload) => ({
      'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_SECRET }),
    }),
  },
  {
    path: '/v1/suppliers/FUZZ-2',
    method: 'PUT',
    template: {
      name: 'Fuzz',
      protocol: 'rest',
      baseUrl: 'http://127.0.0.1:9',
      webhookSecret: 'fuzz-webhook-secret-0123',
      orderEmail: 'orders@fuzz.example',
      capabilities: { webhooks: true, polling: false, cancellation: true },
      pollEvery: '1 hour',
      leadTime: '2 days',
    },
  },
  {
    path: '/v1/supplier-orders',
    template: {
      orderId: 'PO-FUZZ',
      supplier: 'FUZZ',
      lines: [{ sku: 'PNL', description: 'Panel', quantity: 2 }],
      deliverTo: 'Dock B',
    },
  },
  {
    path: '/v1/supplier-orders/PO-FUZZ/receipts',
    template: { receiptId: 'DN-1', lines: [{ sku: 'PNL', quantity: 1 }] },
  },
  { path: '/v1/supplier-orders/PO-FUZZ/cancel', template: { reason: 'fuzz' } },
  { path: '/v1/supplier-orders/PO-FUZZ/reorder', template: { supplier: 'FUZZ', note: 'fuzz' } },
  {
    path: '/webhooks/suppliers/{supplierId}',
    template: {
      id: 'evt_fuzz_supplier',
      type: 'order.updated',
      created: '2026-11-23T10:00:00Z',
      data: { id: 'so_fuzz', reference: 'PO-FUZZ', status: 'shipped', expectedShipDate: null },
    },
    sign: (payload) => ({ 'supplier-signature': signWebhook(SUPPLIER_SECRET, payload) }),
  },
  {
    path: '/webhooks/esign/docusign',
    template: { event: 'envelope-completed', data: { envelopeId: 'env-fuzz' } },
    sign: (payload) => ({
      'x-docusign-signature-1': createHmac('sha256', CONNECT_KEY).update(payload).digest('base64'),
    }),
  },
];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function leaves(value: Json, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(value)) return value.flatMap((item, i) => leaves(item, [...path, i]));
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [path];
}

/** The template with the leaf at `path` replaced by a value of another JSON type: invalid by construction. */
function breakLeaf(template: Json, path: (string | number)[], replacement: Json): Json {
  const copy = structuredClone(template) as Json;
  let node = copy as Record<string | number, Json>;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, Json>;
  node[path.at(-1) as string | number] = replacement;
  return copy;
}

const otherType = (original: Json) =>
  fc
    .oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string(), fc.array(fc.integer()), fc.object())
    .filter((value) => typeof value !== typeof original || (value === null) !== (original === null));

async function tenantRows() {
  const counts: Record<string, number> = {};
  for (const table of [
    'flows',
    'domain_events',
    'payments',
    'invoices',
    'emails',
    'suppliers',
    'supplier_orders',
  ]) {
    const { rows } = await sql<{
      n: string;
    }>`select count(*) as n from ${sql.table(table)} where tenant_id = ${tenantId}`.execute(api.deps.db);
    counts[table] = Number(rows[0]?.n);
  }
  const { rows } = await sql<{
    n: string;
  }>`select count(*) as n from webhook_receipts where external_id in ('evt_fuzz', 'env-fuzz/envelope-completed', 'evt_fuzz_supplier')`.execute(
    api.deps.db,
  );
  counts.webhook_receipts = Number(rows[0]?.n);
  return counts;
}

describe('generated bad input on every route that takes a body', () => {
  it(`is answered 4xx problem+json, never 5xx, and writes nothing (${RUNS} requests per route)`, async () => {
    const before = await tenantRows();
    const client = apiClient(api.url, key);
    const statuses = new Map<number, number>();
    for (const route of ROUTES) {
      const template = route.template as Json;
      const paths = leaves(template);
      const body = fc.oneof(
        // One leaf of a valid body broken.
        fc
          .constantFrom(...paths)
          .chain((path) =>
            otherType(
              path.reduce<Json>(
                (node, step) => (node as Record<string | number, Json>)[step] as Json,
                template,
              ),
            ).map((value) => JSON.stringify(breakLeaf(template, path, value as Json))),
          ),
        // Any JSON at all.
        fc.jsonValue().map((value) => JSON.stringify(value)),
        // Not JSON.
        fc.string().filter((text) => {
          try {
            JSON.parse(text);
            return false;
          } catch {
            return true;
          }
        }),
      );
      const contentType = fc.constantFrom(
        'application/json',
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
      );
      await fc.assert(
        fc.asyncProperty(body, contentType, async (payload, type) => {
          const res = await client.request(
            route.method ?? 'POST',
            route.path.replace('{supplierId}', supplierId),
            {
              body: payload,
              headers: { 'content-type': type, ...route.sign?.(payload) },
            },
          );
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(res.status, `${route.path} ${type} ${payload.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${route.path} ${type} ${payload.slice(0, 200)}`).toBeLessThan(500);
          expect(res.headers.get('content-type')).toBe('application/problem+json');
        }),
        { numRuns: RUNS },
      );
    }
    expect(await tenantRows()).toEqual(before);
    process.stdout.write(`[chaos bad-input] statuses: ${JSON.stringify(Object.fromEntries(statuses))}\n`);
  });
});
