import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { createApiKey } from '../../api/apiKeys.js';
import { createDb, type Db } from '../../db/client.js';
import { migrateToLatest } from '../../db/migrate.js';
import { ensureTenant } from '../../db/tenants.js';
import {
  flowdeskDataConverter,
  newPayloadKey,
  type PayloadKey,
  parsePayloadKeys,
} from '../../runtime/payloadCodec.js';
import {
  createDatabaseIfMissing,
  startEmbeddedPostgres,
  withDatabase,
} from '../../scripts/stack/postgres.js';
import { spawnManaged, waitUntil } from '../../scripts/stack/process.js';
import { serviceCommand } from '../../scripts/stack/services.js';
import { startStripeMock } from '../../scripts/stack/stripeMock.js';
import { startTemporalDevServer } from '../../scripts/stack/temporal.js';
import { freePort } from '../../test/helpers/ports.js';
import { type SmtpSink, startSmtpSink } from '../../test/helpers/smtp.js';

export const STRIPE_WEBHOOK_SECRET = 'whsec_bench';
export const TASK_QUEUE = 'flowdesk';
export const BASELINE_TASK_QUEUE = 'baseline';
export const PLAIN_TASK_QUEUE = 'plain';
const WORKERS = {
  'baseline-worker': fileURLToPath(new URL('../baseline/worker.ts', import.meta.url)),
  'plain-worker': fileURLToPath(new URL('../plain/worker.ts', import.meta.url)),
};
type WorkerKind = 'worker' | keyof typeof WORKERS;

export interface BenchStack {
  apiUrl: string;
  /** The run's database, for the harness to read what users would see. */
  db: Db;
  databaseUrl: string;
  temporalAddress: string;
  /** A Temporal client of its own, for the baselines. */
  client: Client;
  /** An admin API key of the `bench` tenant. */
  key: string;
  tenant: { id: string; slug: string };
  smtp: SmtpSink;
  /** Processes whose CPU the benchmarks count: the Temporal server, PostgreSQL (when embedded), the API. */
  pids: { temporal: number; postgres?: number; api: number };
  /** A worker process (Flowdesk's, the plain baseline's or the bare one's); `stop` sends it SIGTERM. */
  startWorker(
    extraEnv?: Record<string, string>,
    which?: WorkerKind,
  ): Promise<{ pid: number; stop(): Promise<void> }>;
  /** Another API process (on another task queue, say), on a port of its own. */
  startApi(extraEnv: Record<string, string>): Promise<{ url: string; pid: number }>;
  stop(): Promise<void>;
}

/**
 * The stack `npm start` runs, on free ports in a temporary folder, with the API and the worker as processes of
 * their own: the Temporal dev server with file-backed SQLite, PostgreSQL (embedded, or a fresh database on
 * BENCH_DATABASE_URL's server), migrations, stripe-mock and an SMTP sink in the harness.
 */
export async function startBenchStack(options: { worker?: boolean } = {}): Promise<BenchStack> {
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
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
    let postgresPid: number | undefined;
    if (!adminUrl) {
      const postgres = await startEmbeddedPostgres(path.join(dir, 'postgres'), await freePort());
      stops.push(() => postgres.stop());
      adminUrl = postgres.adminUrl;
      postgresPid = postgres.pid;
    }
    const name = `flowdesk_bench_${randomBytes(4).toString('hex')}`;
    await createDatabaseIfMissing(adminUrl, name);
    const databaseUrl = withDatabase(adminUrl, name);
    const db = createDb(databaseUrl, 10);
    stops.push(() => db.destroy());
    await migrateToLatest(db);
    const tenant = await ensureTenant(db, 'bench', 'Benchmarks');
    const { key } = await createApiKey(db, { tenantId: tenant.id, name: 'bench', roles: ['admin'] });

    const smtp = await startSmtpSink();
    stops.push(() => smtp.stop());
    const stripeMock = await startStripeMock(await freePort());
    stops.push(() => stripeMock.stop());

    const apiPort = await freePort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // The run's own payload key: the harness's client writes and reads payloads as the API and workers do.
    const payloadKeySetting = newPayloadKey('bench');
    const payloadKeys = parsePayloadKeys(payloadKeySetting) as PayloadKey[];
    const env = {
      ...process.env,
      DATA_DIR: dir,
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '20',
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      PUBLIC_URL: apiUrl,
      LOG_LEVEL: 'warn',
      SIGNING_SECRET: randomBytes(24).toString('hex'),
      SMTP_URL: smtp.url,
      STRIPE_SECRET_KEY: 'sk_test_bench',
      STRIPE_API_URL: stripeMock.url,
      STRIPE_WEBHOOK_SECRET,
      PAYLOAD_KEYS: payloadKeySetting,
      SUPPLIER_URLS_ALLOW_LOOPBACK: 'true',
      // Every customer of the benchmark signs and pays from this machine.
      RATE_LIMIT_PER_KEY: '0',
      RATE_LIMIT_PER_ADDRESS: '0',
    };
    const service = async (which: 'api' | WorkerKind, extra: Record<string, string> = {}) => {
      const command =
        which === 'api' || which === 'worker' ? serviceCommand(which) : ['--import', 'tsx', WORKERS[which]];
      const child = spawnManaged(which, process.execPath, command, {
        env: { ...env, WORKER_METRICS_PORT: String(await freePort()), ...extra },
        logFile: path.join(dir, `${which}-${extra.PORT ?? extra.TEMPORAL_TASK_QUEUE ?? 'default'}.log`),
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      let ready = false;
      child.child.on('message', () => {
        ready = true;
      });
      await waitUntil(which, async () => ready, { process: child, timeoutMs: 120_000 });
      return child;
    };
    const api = await service('api');
    stops.push(() => api.stop());
    const workers = new Set<() => Promise<void>>();
    stops.push(async () => {
      for (const stop of workers) await stop();
    });
    const startApi = async (extra: Record<string, string>) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const other = await service('api', { PORT: String(port), PUBLIC_URL: url, ...extra });
      stops.push(() => other.stop());
      return { url, pid: other.child.pid ?? 0 };
    };
    const startWorker = async (extra: Record<string, string> = {}, which: WorkerKind = 'worker') => {
      const worker = await service(which, extra);
      const stop = () => worker.stop(20_000);
      workers.add(stop);
      return {
        pid: worker.child.pid ?? 0,
        stop: async () => {
          workers.delete(stop);
          await stop();
        },
      };
    };
    if (options.worker) await startWorker();
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    return {
      apiUrl,
      db,
      databaseUrl,
      temporalAddress: temporal.address,
      client: new Client({
        connection,
        namespace: 'default',
        dataConverter: flowdeskDataConverter(payloadKeys),
      }),
      key,
      tenant: { id: tenant.id, slug: 'bench' },
      smtp,
      pids: { temporal: temporal.process.child.pid ?? 0, postgres: postgresPid, api: api.child.pid ?? 0 },
      startWorker,
      startApi,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
