import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createApiKey } from '../../api/apiKeys.js';
import { type RunningApi, startApi } from '../../api/server.js';
import { createDb } from '../../db/client.js';
import { migrateToLatest } from '../../db/migrate.js';
import { ensureTenant } from '../../db/tenants.js';
import { type Config, loadConfig } from '../../runtime/config.js';
import { createLogger } from '../../runtime/logger.js';
import {
  createDatabaseIfMissing,
  startEmbeddedPostgres,
  withDatabase,
} from '../../scripts/stack/postgres.js';
import { startTemporalDevServer } from '../../scripts/stack/temporal.js';
import { freePort } from '../../test/helpers/ports.js';

export interface BenchStack {
  config: Config;
  api: RunningApi;
  /** A Temporal client of its own, for the baselines. */
  client: Client;
  /** An API key with every role, for a fresh tenant. */
  key: string;
  tenant: { id: string; slug: string };
  stop(): Promise<void>;
}

/**
 * The stack `npm start` runs, on free ports in a temporary folder: the Temporal dev server with file-backed
 * SQLite, PostgreSQL (embedded, or a fresh database on BENCH_DATABASE_URL's server), migrations, the API.
 */
export async function startBenchStack(): Promise<BenchStack> {
  const stops: (() => Promise<unknown>)[] = [];
  const dir = await mkdtemp(path.join(tmpdir(), 'flowdesk-bench-'));
  await chmod(dir, 0o755);
  stops.push(() => rm(dir, { recursive: true, force: true }));
  try {
    const temporal = await startTemporalDevServer({
      port: await freePort(),
      uiPort: await freePort(),
      namespace: 'default',
      dataDir: path.join(dir, 'temporal'),
      logFile: path.join(dir, 'temporal.log'),
    });
    stops.push(() => temporal.stop());
    let adminUrl = process.env.BENCH_DATABASE_URL;
    if (!adminUrl) {
      const postgres = await startEmbeddedPostgres(path.join(dir, 'postgres'), await freePort());
      stops.push(() => postgres.stop());
      adminUrl = postgres.adminUrl;
    }
    const name = `flowdesk_bench_${randomBytes(4).toString('hex')}`;
    await createDatabaseIfMissing(adminUrl, name);
    const databaseUrl = withDatabase(adminUrl, name);
    const setup = createDb(databaseUrl, 1);
    await migrateToLatest(setup);
    const tenant = await ensureTenant(setup, 'bench', 'Benchmarks');
    const { key } = await createApiKey(setup, { tenantId: tenant.id, name: 'bench', roles: ['admin'] });
    await setup.destroy();

    const loaded = loadConfig({
      DATA_DIR: dir,
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '20',
      TEMPORAL_ADDRESS: temporal.address,
      LOG_LEVEL: 'silent',
      SIGNING_SECRET: randomBytes(24).toString('hex'),
    });
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    const config = loaded.config;
    const api = await startApi(config, {
      logger: createLogger(config, 'api-bench'),
      version: 'bench',
      port: 0,
    });
    stops.push(() => api.stop());
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    return {
      config,
      api,
      client: new Client({ connection, namespace: 'default' }),
      key,
      tenant: { id: tenant.id, slug: 'bench' },
      stop: async () => {
        for (const stop of stops.reverse()) await stop().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}
