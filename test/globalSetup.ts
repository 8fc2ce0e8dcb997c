import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { createDb } from '../db/client.js';
import { migrateToLatest } from '../db/migrate.js';
import {
  createDatabaseIfMissing,
  dropDatabase,
  startEmbeddedPostgres,
  withDatabase,
} from '../scripts/stack/postgres.js';
import { startTemporalDevServer } from '../scripts/stack/temporal.js';
import { ensureTool, STRIPE_MOCK } from '../scripts/tools.js';
import { freePort } from './helpers/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    databaseUrl: string;
    databaseAdminUrl: string;
  }
}

/**
 * One Temporal dev server (in memory) and one fresh, migrated PostgreSQL database for the whole run. The
 * database lives on TEST_DATABASE_URL / DATABASE_URL's server when set, else on an embedded PostgreSQL.
 */
export default async function setup(project: TestProject) {
  const cleanups: Array<() => Promise<void>> = [];
  try {
    // Found, or built once here with `go install` on a fresh machine: not inside a test file's setup, where two
    // files would build it at once under a hook's time limit.
    ensureTool(STRIPE_MOCK);
    const logDir = await mkdtemp(path.join(tmpdir(), 'flowdesk-test-logs-'));
    const temporal = await startTemporalDevServer({
      port: await freePort(),
      uiPort: await freePort(),
      namespace: 'default',
      logFile: path.join(logDir, 'temporal.log'),
    });
    cleanups.push(async () => {
      await temporal.stop();
      await rm(logDir, { recursive: true, force: true });
    });

    let adminUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
    if (!adminUrl) {
      const dir = await mkdtemp(path.join(tmpdir(), 'flowdesk-test-pg-'));
      const postgres = await startEmbeddedPostgres(dir, await freePort());
      cleanups.push(async () => {
        await postgres.stop();
        await rm(dir, { recursive: true, force: true });
      });
      adminUrl = postgres.adminUrl;
    }
    const name = `flowdesk_test_${Date.now()}_${randomBytes(3).toString('hex')}`;
    await createDatabaseIfMissing(adminUrl, name);
    const admin = adminUrl;
    cleanups.push(() => dropDatabase(admin, name));
    const databaseUrl = withDatabase(adminUrl, name);
    const db = createDb(databaseUrl, 1);
    await migrateToLatest(db);
    await db.destroy();

    project.provide('temporalAddress', temporal.address);
    project.provide('temporalNamespace', 'default');
    project.provide('databaseUrl', databaseUrl);
    project.provide('databaseAdminUrl', adminUrl);
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw error;
  }
  return async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
}
