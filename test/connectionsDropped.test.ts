import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../db/client.js';
import { apiClient, createTestTenant, startTestApi, type TestApi } from './helpers/api.js';
import { testEnvironment } from './helpers/config.js';

const APPLICATION = `flowdesk-dropped-${process.pid}`;
let api: TestApi;

beforeAll(async () => {
  const url = new URL(testEnvironment().DATABASE_URL ?? '');
  url.searchParams.set('application_name', APPLICATION);
  api = await startTestApi({ env: { DATABASE_URL: url.toString() } });
});
afterAll(() => api?.stop());

describe('when PostgreSQL drops every connection', () => {
  it('the API keeps running and answers the next request on new connections', async () => {
    const key = await (await createTestTenant(api.deps.db)).key(['viewer']);
    const client = apiClient(api.url, key);
    expect((await client.get('/v1/flows')).status).toBe(200);

    const admin = createDb(testEnvironment().DATABASE_URL ?? '', 1);
    const dropped = await sql<{ pid: number }>`
      select pg_terminate_backend(pid) as pid from pg_stat_activity where application_name = ${APPLICATION}`.execute(
      admin,
    );
    await admin.destroy();
    expect(dropped.rows.length).toBeGreaterThan(0);
    // The pool learns of the loss from its idle connections; the process must not end over it.
    await new Promise((resolve) => setTimeout(resolve, 200));

    const after = await client.get('/v1/flows');
    expect(after.status).toBe(200);
    expect((await apiClient(api.url).get('/readyz')).status).toBe(200);
  });

  it('a transaction whose connection is dropped between statements fails alone; the pool goes on', async () => {
    const url = new URL(testEnvironment().DATABASE_URL ?? '');
    url.searchParams.set('application_name', `${APPLICATION}-trx`);
    const db = createDb(url.toString(), 2);
    const admin = createDb(testEnvironment().DATABASE_URL ?? '', 1);
    try {
      const transaction = db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx);
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${`${APPLICATION}-trx`}`.execute(
          admin,
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
        await sql`select 2`.execute(trx);
      });
      await expect(transaction).rejects.toThrow();
      const { rows } = await sql<{ n: number }>`select 3 as n`.execute(db);
      expect(rows).toEqual([{ n: 3 }]);
    } finally {
      await Promise.all([db.destroy(), admin.destroy()]);
    }
  });
});
