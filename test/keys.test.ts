import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startTestApi, type TestApi } from './helpers/api.js';
import { testEnvironment } from './helpers/config.js';

function keysCommand(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/keys.ts', ...args], {
    env: { ...process.env, ...testEnvironment() },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('npm run keys', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api.stop());

  it('creates a tenant and a key with the given roles, printing the key once', async () => {
    const run = keysCommand([
      'create',
      '--tenant',
      'northwind',
      '--roles',
      'finance,viewer',
      '--name',
      'ledger',
    ]);
    expect(run.status, run.stderr).toBe(0);
    const key = /^(fdk_\S+)$/m.exec(run.stdout)?.[1];
    expect(key).toBeDefined();
    const me = await apiClient(api.url, key).get('/v1/me');
    expect(me.body).toMatchObject({ tenant: 'northwind', keyName: 'ledger', roles: ['finance', 'viewer'] });
  });

  it('refuses an unknown role and writes nothing', async () => {
    const before = await api.deps.db
      .selectFrom('api_keys')
      .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tenants.slug', '=', 'northwind')
      .executeTakeFirstOrThrow();
    const run = keysCommand(['create', '--tenant', 'northwind', '--roles', 'superuser']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^roles\.0: Invalid option: expected one of/m);
    const after = await api.deps.db
      .selectFrom('api_keys')
      .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tenants.slug', '=', 'northwind')
      .executeTakeFirstOrThrow();
    expect(after.n).toBe(before.n);
  });
});
