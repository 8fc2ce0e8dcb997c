import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROBLEM_CONTENT_TYPE } from '../api/problem.js';
import { apiClient, createTestTenant, startTestApi, type TestApi } from './helpers/api.js';
import { freePort } from './helpers/ports.js';

describe('API operations endpoints', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api.stop());

  it('/healthz answers while the process is alive', async () => {
    const res = await apiClient(api.url).get('/healthz');
    expect(res).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('/readyz reports the database and Temporal as up', async () => {
    const res = await apiClient(api.url).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: 'ready',
      checks: { database: { status: 'up' }, temporal: { status: 'up' } },
    });
  });

  it('/openapi.json describes the routes, /docs serves the reference page and its assets locally', async () => {
    const client = apiClient(api.url);
    const doc = await client.get('/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/v1/me']));
    const page = await client.get('/docs');
    expect(page.status).toBe(200);
    expect(page.text).toContain('/openapi.json');
    const scripts = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(scripts.every((src) => src.startsWith('/docs/assets/'))).toBe(true);
    for (const asset of scripts) expect((await client.get(asset)).status).toBe(200);
  });

  it('/metrics exposes request counts in Prometheus text format', async () => {
    await apiClient(api.url).get('/healthz');
    const res = await apiClient(api.url).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(
      /flowdesk_api_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
  });

  it('keys audit events by its own request ids: a client repeating an X-Request-Id loses no event', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const admin = await tenant.key(['admin']);
    const register = (name: string) =>
      fetch(`${api.url}/v1/suppliers/REPEAT`, {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${admin}`,
          'content-type': 'application/json',
          'x-request-id': 'same',
        },
        body: JSON.stringify({ name, protocol: 'manual', orderEmail: 'orders@supplier.example' }),
      });
    const first = await register('First name');
    const second = await register('Second name');
    expect([first.status, second.status]).toEqual([201, 200]);
    expect(first.headers.get('x-request-id')).not.toBe('same');
    expect(first.headers.get('x-request-id')).not.toBe(second.headers.get('x-request-id'));
    const events = await api.deps.db
      .selectFrom('domain_events')
      .select(['type', 'payload'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('entity_id', '=', 'REPEAT')
      .orderBy('position')
      .execute();
    expect(events.map((event) => [event.type, event.payload.name])).toEqual([
      ['supplier.registered', 'First name'],
      ['supplier.updated', 'Second name'],
    ]);
  });

  it('answers a known path asked with another method 405, naming the methods it takes', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const viewer = apiClient(api.url, await tenant.key(['viewer']));
    const res = await viewer.request('DELETE', '/v1/flows');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
    expect((await viewer.request('PUT', '/v1/flows/abc/pause')).headers.get('allow')).toBe('POST');
    expect((await apiClient(api.url).request('DELETE', '/healthz')).status).toBe(405);
  });

  it('answers unknown routes with problem+json', async () => {
    const res = await apiClient(api.url).get('/nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
    expect(res.body).toMatchObject({ status: 404, title: 'Not found', detail: 'No route GET /nope.' });
  });
});

describe('/metrics kept from the public', () => {
  it('answers only the METRICS_TOKEN when one is set', async () => {
    const token = 'metrics-token-0123456789';
    const api = await startTestApi({ env: { METRICS_TOKEN: token } });
    try {
      expect((await apiClient(api.url).get('/metrics')).status).toBe(401);
      expect((await apiClient(api.url, 'wrong-token-0123456789').get('/metrics')).status).toBe(401);
      const allowed = await apiClient(api.url, token).get('/metrics');
      expect(allowed.status).toBe(200);
      expect(allowed.text).toContain('flowdesk_stripe_inbox_waiting');
    } finally {
      await api.stop();
    }
  });

  it('moves to a port of its own with API_METRICS_PORT, off the public one', async () => {
    const port = await freePort();
    const api = await startTestApi({ env: { API_METRICS_PORT: String(port) } });
    try {
      expect((await apiClient(api.url).get('/metrics')).status).toBe(404);
      const apart = await apiClient(`http://127.0.0.1:${port}`).get('/metrics');
      expect(apart.status).toBe(200);
      expect(apart.text).toContain('flowdesk_api_http_request_duration_seconds');
    } finally {
      await api.stop();
    }
  });
});

describe('/readyz with a dependency down', () => {
  it('answers 503 problem+json naming the database when it is unreachable', async () => {
    const port = await freePort();
    const api = await startTestApi({ env: { DATABASE_URL: `postgres://nobody@127.0.0.1:${port}/none` } });
    try {
      const res = await apiClient(api.url).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
      expect(res.body.checks.database.status).toBe('down');
      expect(res.body.checks.temporal).toEqual({ status: 'up' });
      expect(res.body.detail).toMatch(/^database is unreachable: /);
    } finally {
      await api.stop();
    }
  });

  it('answers 503 naming Temporal when it is unreachable', async () => {
    const port = await freePort();
    const api = await startTestApi({ env: { TEMPORAL_ADDRESS: `127.0.0.1:${port}` } });
    try {
      const res = await apiClient(api.url).get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body.checks).toMatchObject({ database: { status: 'up' }, temporal: { status: 'down' } });
      expect(res.body.detail).toMatch(/^temporal is unreachable: /);
    } finally {
      await api.stop();
    }
  });
});

describe('API keys', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api.stop());

  it('identify the tenant and roles of the caller', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const key = await tenant.key(['coordinator', 'finance']);
    const res = await apiClient(api.url, key).get('/v1/me');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      tenantId: tenant.tenantId,
      tenant: tenant.slug,
      keyName: 'coordinator+finance',
      roles: ['coordinator', 'finance'],
    });
  });

  it('are stored hashed, never in plain text', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const key = await tenant.key(['viewer']);
    const rows = await api.deps.db
      .selectFrom('api_keys')
      .selectAll()
      .where('tenant_id', '=', tenant.tenantId)
      .execute();
    expect(rows).toHaveLength(1);
    // fdk_<prefix>_<secret>; the secret itself may contain underscores.
    expect(JSON.stringify(rows)).not.toContain(key.split('_').slice(2).join('_'));
  });

  it('refuse a missing, malformed, unknown or revoked key with 401 problem+json', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const key = await tenant.key(['viewer']);
    const forged = `${key.slice(0, -4)}AAAA`;
    await api.deps.db
      .insertInto('api_keys')
      .values({
        tenant_id: tenant.tenantId,
        name: 'x',
        prefix: 'abcdefabcdef',
        key_hash: '00',
        roles: ['admin'],
      })
      .execute();
    for (const presented of [
      undefined,
      'not-a-key',
      forged,
      'fdk_abcdefabcdef_0000000000000000000000000000000000000000000',
    ]) {
      const res = await apiClient(api.url, presented).get('/v1/me');
      expect(res.status, String(presented)).toBe(401);
      expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    await api.deps.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('tenant_id', '=', tenant.tenantId)
      .execute();
    expect((await apiClient(api.url, key).get('/v1/me')).status).toBe(401);
  });
});
