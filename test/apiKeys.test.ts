import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';

/** Admins manage their tenant's keys through the API; a revoked or expired key stops working at once. */
describe('API key management', () => {
  let api: TestApi;
  let tenant: TestTenant;
  let admin: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    api = await startTestApi();
    tenant = await createTestTenant(api.deps.db);
    admin = apiClient(api.url, await tenant.key(['admin']));
  });
  afterAll(() => api?.stop());

  const me = (key: string) => apiClient(api.url, key).get('/v1/me');

  it('creates a key shown once, lists keys without their secrets, and notes when each was last used', async () => {
    const created = await admin.post('/v1/api-keys', { name: 'Warehouse tablet', roles: ['warehouse'] });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: 'Warehouse tablet', roles: ['warehouse'], revokedAt: null });
    expect(created.body.key).toMatch(/^fdk_[0-9a-f]{12}_/);
    expect((await me(created.body.key)).body).toMatchObject({
      keyName: 'Warehouse tablet',
      roles: ['warehouse'],
    });

    const listed = await admin.get('/v1/api-keys');
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(created.body.key);
    expect(listed.text).not.toMatch(/key_hash|keyHash/);
    const entry = listed.body.keys.find((key: { id: string }) => key.id === created.body.id);
    expect(entry).toMatchObject({ prefix: created.body.prefix, roles: ['warehouse'] });
    await expect
      .poll(async () =>
        (await admin.get('/v1/api-keys')).body.keys.find((k: { id: string }) => k.id === entry.id),
      )
      .toMatchObject({ lastUsedAt: expect.any(String) });

    const warehouse = apiClient(api.url, created.body.key);
    expect((await warehouse.get('/v1/api-keys')).status).toBe(403);
    expect((await warehouse.post('/v1/api-keys', { name: 'me too', roles: ['admin'] })).status).toBe(403);
  });

  it('revokes a key at once, and keeps the revocation in the audit trail', async () => {
    const { body: key } = await admin.post('/v1/api-keys', { name: 'Leaked', roles: ['viewer'] });
    expect((await me(key.key)).status).toBe(200);
    const revoked = await admin.post(`/v1/api-keys/${key.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).not.toBeNull();
    expect((await me(key.key)).status).toBe(401);
    expect((await admin.post(`/v1/api-keys/${key.id}/revoke`)).status).toBe(200);
    const events = await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('tenant_id', '=', tenant.tenantId)
      .where('entity_id', '=', key.id)
      .orderBy('position')
      .execute();
    expect(events.map((event) => event.type)).toEqual(['api_key.created', 'api_key.revoked']);
  });

  it('rotates a key: the new one works, the old one until its overlap ends (at once without one)', async () => {
    const { body: first } = await admin.post('/v1/api-keys', { name: 'Integration', roles: ['coordinator'] });
    const rotated = await admin.post(`/v1/api-keys/${first.id}/rotate`, { overlapSeconds: 3600 });
    expect(rotated.status, rotated.text).toBe(201);
    expect(rotated.body).toMatchObject({ name: 'Integration', roles: ['coordinator'] });
    expect((await me(rotated.body.key)).status).toBe(200);
    expect((await me(first.key)).status).toBe(200);
    const old = (await admin.get('/v1/api-keys')).body.keys.find((k: { id: string }) => k.id === first.id);
    expect(Date.parse(old.expiresAt)).toBeGreaterThan(Date.now() + 3500_000);
    // The overlap has passed.
    await api.deps.db
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', first.id)
      .execute();
    expect((await me(first.key)).status).toBe(401);
    expect((await admin.post(`/v1/api-keys/${first.id}/rotate`)).status).toBe(409);

    const again = await admin.post(`/v1/api-keys/${rotated.body.id}/rotate`);
    expect(again.status).toBe(201);
    expect((await me(rotated.body.key)).status).toBe(401);
    expect((await me(again.body.key)).status).toBe(200);
  });

  it('refuses keys of another tenant, and expiry dates in the past', async () => {
    const other = await createTestTenant(api.deps.db);
    const { body: theirs } = await apiClient(api.url, await other.key(['admin'])).post('/v1/api-keys', {
      name: 'Theirs',
      roles: ['viewer'],
    });
    expect((await admin.post(`/v1/api-keys/${theirs.id}/revoke`)).status).toBe(404);
    expect((await admin.post(`/v1/api-keys/${theirs.id}/rotate`)).status).toBe(404);
    expect((await me(theirs.key)).status).toBe(200);
    const past = await admin.post('/v1/api-keys', {
      name: 'Old',
      roles: ['viewer'],
      expiresAt: '2020-01-01T00:00:00Z',
    });
    expect(past.status).toBe(400);
    expect(past.body.errors).toEqual([expect.objectContaining({ field: 'body.expiresAt' })]);
  });
});
