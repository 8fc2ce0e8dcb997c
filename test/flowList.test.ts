import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ApiResponse,
  apiClient,
  createTestTenant,
  startTestApi,
  type TestApi,
  type TestTenant,
} from './helpers/api.js';
import { flowRow } from './helpers/flows.js';

type FlowPage = { flows: { businessKey: string }[]; nextCursor: string | null };

let api: TestApi;
let tenant: TestTenant;
let viewer: ReturnType<typeof apiClient>;

beforeAll(async () => {
  api = await startTestApi();
  tenant = await createTestTenant(api.deps.db);
  viewer = apiClient(api.url, await tenant.key(['viewer']));
  // 25 flows of two types and states, one minute apart, as the kernel would have published them.
  const base = Date.parse('2026-11-01T10:00:00Z');
  await api.deps.db
    .insertInto('flows')
    .values(
      Array.from({ length: 25 }, (_, i) =>
        flowRow({
          id: `${i % 2 ? 'invoice' : 'proposal'}:${tenant.slug}:K-${String(i).padStart(2, '0')}`,
          tenant_id: tenant.tenantId,
          flow_type: i % 2 ? 'invoicePayment' : 'proposalToPayment',
          business_key: `K-${String(i).padStart(2, '0')}`,
          state: i % 5 === 0 ? 'needs_attention' : 'waiting',
          current_step: i % 5 === 0 ? 'sendInvoice' : 'awaitPayment',
          started_at: new Date(base + i * 60_000),
          updated_at: new Date(base + i * 60_000),
        }),
      ),
    )
    .execute();
});

afterAll(() => api.stop());

describe('GET /v1/flows', () => {
  it('pages through every flow of the tenant once, newest activity first, with an opaque cursor', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: ApiResponse<FlowPage> = await viewer.get<FlowPage>(
        `/v1/flows?limit=10${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      seen.push(...page.body.flows.map((f) => f.businessKey));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `K-${String(24 - i).padStart(2, '0')}`));
  });

  it('filters by type, state, step and text', async () => {
    const byType = await viewer.get('/v1/flows?type=invoicePayment&limit=200');
    expect(byType.body.flows).toHaveLength(12);
    const stuck = await viewer.get('/v1/flows?state=needs_attention');
    expect(stuck.body.flows.map((f: { businessKey: string }) => f.businessKey)).toEqual([
      'K-20',
      'K-15',
      'K-10',
      'K-05',
      'K-00',
    ]);
    const both = await viewer.get('/v1/flows?type=invoicePayment&state=needs_attention&step=sendInvoice');
    expect(both.body.flows.map((f: { businessKey: string }) => f.businessKey)).toEqual(['K-15', 'K-05']);
    const text = await viewer.get('/v1/flows?q=K-1');
    expect(text.body.flows).toHaveLength(10);
    const wildcard = await viewer.get(`/v1/flows?q=${encodeURIComponent('%')}`);
    expect(wildcard.body.flows).toHaveLength(0);
  });

  it('answers bad filters with 400 naming the parameter, and shows other tenants nothing', async () => {
    const bad = await viewer.get('/v1/flows?state=asleep&limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'query.limit',
      'query.state',
    ]);
    const forged = await viewer.get('/v1/flows?cursor=not-a-cursor');
    expect(forged.status).toBe(400);
    expect(forged.body.errors).toEqual([
      { field: 'query.cursor', message: 'not a cursor returned by this API' },
    ]);
    const other = await createTestTenant(api.deps.db);
    const theirs = await apiClient(api.url, await other.key(['admin'])).get('/v1/flows');
    expect(theirs.body.flows).toEqual([]);
  });
});
