import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createApiKey } from '../api/apiKeys.js';
import { createDb, type Db } from '../db/client.js';
import { migrateToLatest } from '../db/migrate.js';
import { inviteStaff } from '../db/staff.js';
import { ensureTenant } from '../db/tenants.js';
import { type Config, configOrExit } from '../runtime/config.js';
import { newPayloadKey } from '../runtime/payloadCodec.js';
import { PRIVATE_FILE, privateDir } from '../runtime/privateFiles.js';
import { startCourierSimulator } from './simulators/courier.js';
import { startLegacySimulator } from './simulators/legacy.js';
import { embeddedPostgresDir } from './stack/database.js';
import { startEmbeddedPostgres } from './stack/postgres.js';
import { type ManagedProcess, spawnManaged, waitUntil } from './stack/process.js';
import { serviceCommand } from './stack/services.js';
import { startStripeMock } from './stack/stripeMock.js';
import { startStripeListener, stripeWebhookPlan } from './stack/stripeWebhooks.js';
import { startTemporalDevServer } from './stack/temporal.js';

/**
 * `npm start`: the whole stack on one machine. Servers that are not configured (DATABASE_URL, TEMPORAL_ADDRESS)
 * are started here with their state in the data folder; the worker and the API run as child processes.
 * SIGINT/SIGTERM stop everything in order: API and worker first, then Temporal, then PostgreSQL.
 */

const config = configOrExit();
const logsDir = path.join(config.dataDir, 'logs');
await privateDir(logsDir);
const supervisorLog = path.join(logsDir, 'start.log');
// Also logged to a file: npm exits as soon as it forwards a signal, so the terminal may miss the shutdown lines.
const say = (line: string) => {
  process.stdout.write(`${line}\n`);
  appendFileSync(supervisorLog, `${new Date().toISOString()} ${line}\n`, { mode: PRIVATE_FILE });
};

type Stopper = { name: string; stop: () => Promise<void> };
const stoppers: Stopper[] = [];
let shuttingDownSince: number | undefined;

async function shutdown(code: number, reason: string): Promise<void> {
  if (shuttingDownSince !== undefined) return;
  shuttingDownSince = Date.now();
  say(`\nStopping Flowdesk (${reason})…`);
  // Reverse start order: the API and worker go before the servers they depend on.
  for (const { name, stop } of stoppers.reverse()) {
    await stop().catch((error: unknown) => say(`  ${name} did not stop cleanly: ${String(error)}`));
  }
  say('Stopped.');
  process.exit(code);
}

function onSignal(signal: NodeJS.Signals) {
  // A terminal's Ctrl-C reaches us twice (from the terminal and forwarded by npm); only a later one forces.
  if (shuttingDownSince !== undefined && Date.now() - shuttingDownSince > 1_000) {
    say(`Forced exit (${signal} while stopping).`);
    process.exit(1);
  }
  void shutdown(0, signal);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Whatever launched us (npm, a shell, a test) may die without passing a signal on; we must not outlive it.
const launcher = process.ppid;
setInterval(() => {
  if (process.ppid !== launcher) void shutdown(0, 'the launching process exited');
}, 500).unref();
// With the launcher gone, the terminal may be too; losing our own output must not stop the shutdown.
process.stdout.on('error', () => undefined);

const KEY_FILE = path.join(config.dataDir, 'demo-api-key');
const CONSOLE_INVITE_FILE = path.join(config.dataDir, 'console-invitation');
const DEMO_STAFF_EMAIL = 'ops@demo.example';
const DEMO_KEY_NAME = 'demo admin';
const SIGNING_SECRET_FILE = path.join(config.dataDir, 'signing-secret');
const STRIPE_WEBHOOK_SECRET_FILE = path.join(config.dataDir, 'stripe-webhook-secret');
const PAYLOAD_KEYS_FILE = path.join(config.dataDir, 'payload-keys');
const COURIER_WEBHOOK_SECRET_FILE = path.join(config.dataDir, 'courier-webhook-secret');

/** A secret made on first start and kept in the data folder, unless the environment gives one. */
async function keptSecret(given: string | undefined, file: string, prefix = ''): Promise<string> {
  if (given) return given;
  if (!existsSync(file))
    await writeFile(file, `${prefix}${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  return (await readFile(file, 'utf8')).trim();
}

/** The payload keys (PAYLOAD_KEYS), or the one made on first start and kept in the data folder. */
async function payloadKeys(): Promise<string> {
  if (process.env.PAYLOAD_KEYS) return process.env.PAYLOAD_KEYS;
  if (!existsSync(PAYLOAD_KEYS_FILE))
    await writeFile(PAYLOAD_KEYS_FILE, `${newPayloadKey()}\n`, { mode: 0o600 });
  return (await readFile(PAYLOAD_KEYS_FILE, 'utf8')).trim();
}

/**
 * The demo tenant and its admin key, written once to a 0600 file. One demo key at a time: when the file is gone,
 * the keys it held are revoked before a new one is written, and the banner says so.
 */
async function seedDemoTenant(databaseUrl: string): Promise<void> {
  const db = createDb(databaseUrl, 1);
  try {
    await migrateToLatest(db);
    const tenant = await ensureTenant(db, 'demo', 'Demo Installations Ltd');
    await inviteDemoStaff(db, tenant.id);
    if (existsSync(KEY_FILE)) return;
    const revoked = await db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('tenant_id', '=', tenant.id)
      .where('name', '=', DEMO_KEY_NAME)
      .where('revoked_at', 'is', null)
      .returning('id')
      .execute();
    const { key } = await createApiKey(db, { tenantId: tenant.id, name: DEMO_KEY_NAME, roles: ['admin'] });
    await writeFile(KEY_FILE, `${key}\n`, { mode: 0o600 });
    say(
      revoked.length > 0
        ? `  ${KEY_FILE} was missing: the earlier demo key is revoked, a new one written there`
        : `  Demo admin key written to ${KEY_FILE}`,
    );
  } finally {
    await db.destroy();
  }
}

/**
 * The demo tenant's first console account (admin): invited once, its one-time link written to a 0600 file, where
 * whoever runs the stack opens it and chooses the password.
 */
async function inviteDemoStaff(db: Db, tenantId: string): Promise<void> {
  const invited = await inviteStaff(
    db,
    { tenantId, email: DEMO_STAFF_EMAIL, name: 'Demo operator', roles: ['admin'] },
    { type: 'system', id: 'npm start' },
  );
  if (!invited.invited) return;
  const link = new URL(`/console/invite/${invited.inviteToken}`, config.api.publicUrl).toString();
  await writeFile(CONSOLE_INVITE_FILE, `${link}\n`, { mode: 0o600 });
  say(`  Console invitation for ${DEMO_STAFF_EMAIL} written to ${CONSOLE_INVITE_FILE}`);
}

/** Source entry points run through tsx; the compiled build (npm run build) runs as plain JavaScript. */
async function startService(service: 'api' | 'worker', env: NodeJS.ProcessEnv): Promise<ManagedProcess> {
  const logFile = path.join(logsDir, `${service}.log`);
  const child = spawnManaged(service, process.execPath, serviceCommand(service), {
    env,
    logFile,
    // The IPC channel lets the child report readiness, and closes if this supervisor dies.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  stoppers.push({ name: service, stop: () => child.stop(config.worker.shutdownGraceSeconds * 1000 + 5_000) });
  let ready = false;
  child.child.on('message', (message: { type?: string }) => {
    if (message?.type === 'ready') ready = true;
  });
  void child.exited.then((code) => {
    void shutdown(1, `${service} exited with code ${code}; see ${logFile}`);
  });
  await waitUntil(`${service} (log: ${logFile})`, async () => ready, { process: child, timeoutMs: 120_000 });
  return child;
}

function banner(
  cfg: Config,
  temporalUi: string,
  temporalAddress: string,
  stripe: string,
  stripeWebhooks: string,
  legacy: string,
  couriers: string,
): string {
  const api = cfg.api.publicUrl;
  const rows = [
    ['API', api],
    ['Console', `${api}/console (${DEMO_STAFF_EMAIL}; first time, open the link in ${CONSOLE_INVITE_FILE})`],
    ['API docs', `${api}/docs`],
    ['OpenAPI', `${api}/openapi.json`],
    ['Readiness', `${api}/readyz`],
    ['Temporal UI', temporalUi],
    ['Temporal', `${temporalAddress} (namespace ${cfg.temporal.namespace})`],
    ['Metrics', `${api}/metrics (API), http://${cfg.api.host}:${cfg.worker.metricsPort}/metrics (worker)`],
    ['Payments', stripe],
    ['Stripe events', stripeWebhooks],
    ['Legacy system', legacy],
    ['Courier tracking', couriers],
    ['Email', cfg.email.smtpUrl ? 'SMTP_URL' : `written to ${cfg.email.outboxDir}`],
    ['Data', `${cfg.dataDir} (logs in ${logsDir})`],
  ];
  // The key itself is never printed: this output is also the start log.
  rows.push(['Demo API key', `in ${KEY_FILE} (tenant demo, role admin)`]);
  rows.push(['Decoded payloads', `${api}/codec/session (the Temporal UI's codec endpoint is ${api}/codec)`]);
  const width = Math.max(...rows.map(([label]) => label?.length ?? 0));
  return [
    '',
    'Flowdesk is running',
    ...rows.map(([label, value]) => `  ${label?.padEnd(width)}  ${value}`),
    '',
    'Press Ctrl-C to stop.',
  ].join('\n');
}

try {
  say(`Starting Flowdesk (data in ${config.dataDir})…`);
  let databaseUrl = config.database.url;
  if (!databaseUrl) {
    say(`  PostgreSQL: embedded, port ${config.database.embeddedPort}`);
    const postgres = await startEmbeddedPostgres(embeddedPostgresDir(config), config.database.embeddedPort);
    stoppers.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
    databaseUrl = postgres.url;
  }

  let temporalAddress = config.temporal.address;
  let temporalUi = config.temporal.uiUrl;
  if (!temporalAddress) {
    say(`  Temporal: dev server, port ${config.temporal.devPort}, Web UI port ${config.temporal.uiPort}`);
    const temporal = await startTemporalDevServer({
      port: config.temporal.devPort,
      uiPort: config.temporal.uiPort,
      namespace: config.temporal.namespace,
      dataDir: path.join(config.dataDir, 'temporal'),
      logFile: path.join(logsDir, 'temporal.log'),
      uiCodecEndpoint: `${config.api.publicUrl}/codec`,
    });
    stoppers.push({ name: 'Temporal', stop: () => temporal.stop() });
    temporalAddress = temporal.address;
    temporalUi = temporal.uiUrl;
  }

  let stripe = {
    secretKey: config.stripe.secretKey,
    apiUrl: config.stripe.apiUrl,
    banner: 'Stripe (STRIPE_SECRET_KEY)',
  };
  if (!stripe.secretKey) {
    say(`  Stripe: stripe-mock, port ${config.stripe.mockPort}`);
    const mock = await startStripeMock(config.stripe.mockPort, path.join(logsDir, 'stripe-mock.log'));
    stoppers.push({ name: 'stripe-mock', stop: () => mock.stop() });
    stripe = { secretKey: 'sk_test_flowdesklocal', apiUrl: mock.url, banner: `stripe-mock at ${mock.url}` };
  }

  const webhookRoute = `http://${config.api.host}:${config.api.port}/webhooks/stripe`;
  const plan = stripeWebhookPlan(config.stripe, webhookRoute);
  let webhooks = { secret: config.stripe.webhookSecret ?? '', banner: 'signed with STRIPE_WEBHOOK_SECRET' };
  if (plan.source === 'stripe-listen' && stripe.secretKey) {
    say('  Stripe: stripe listen forwards the test account’s events');
    const listenLog = path.join(logsDir, 'stripe-listen.log');
    const listener = await startStripeListener({
      cli: plan.cli,
      apiKey: stripe.secretKey,
      forwardTo: webhookRoute,
      logFile: listenLog,
    });
    stoppers.push({ name: 'stripe listen', stop: () => listener.process.stop() });
    webhooks = {
      secret: listener.webhookSecret,
      banner: `stripe listen → ${webhookRoute} (log in ${listenLog})`,
    };
  } else if (plan.source === 'development') {
    webhooks = {
      secret: await keptSecret(undefined, STRIPE_WEBHOOK_SECRET_FILE, 'whsec_'),
      banner: `signed with the development secret in ${STRIPE_WEBHOOK_SECRET_FILE}`,
    };
    if (plan.advice) say(`  Stripe: ${plan.advice}`);
  }

  // Automation steps talk to the legacy device system; on this machine, its simulator stands in for it.
  let legacy = { url: config.legacy.url, banner: 'LEGACY_URL' };
  if (!legacy.url) {
    const simulator = await startLegacySimulator();
    stoppers.push({ name: 'legacy simulator', stop: () => simulator.stop() });
    legacy = { url: simulator.url, banner: `the legacy-system simulator at ${simulator.url}` };
  }

  // Courier tracking comes from an AfterShip account; on this machine, the courier simulator stands in for it.
  let couriers = {
    apiUrl: config.couriers.apiUrl,
    webhookSecret: config.couriers.webhookSecret,
    banner: 'COURIER_API_URL',
  };
  if (!couriers.apiUrl) {
    const webhookSecret = await keptSecret(config.couriers.webhookSecret, COURIER_WEBHOOK_SECRET_FILE);
    const simulator = await startCourierSimulator({
      webhookSecret,
      callbackUrl: `http://${config.api.host}:${config.api.port}/webhooks/couriers/aftership`,
      schedule: { InfoReceived: 500, InTransit: 1_500, OutForDelivery: 2_500, Delivered: 3_500 },
    });
    stoppers.push({ name: 'courier simulator', stop: () => simulator.stop() });
    couriers = { apiUrl: simulator.url, webhookSecret, banner: `the courier simulator at ${simulator.url}` };
  }

  say('  Migrating the database');
  await seedDemoTenant(databaseUrl);

  const env = {
    ...process.env,
    DATA_DIR: config.dataDir,
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_UI_URL: temporalUi,
    SIGNING_SECRET: await keptSecret(config.signingSecret, SIGNING_SECRET_FILE),
    STRIPE_SECRET_KEY: stripe.secretKey,
    STRIPE_API_URL: stripe.apiUrl,
    STRIPE_WEBHOOK_SECRET: webhooks.secret,
    PAYLOAD_KEYS: await payloadKeys(),
    LEGACY_URL: legacy.url,
    COURIER_API_URL: couriers.apiUrl,
    COURIER_WEBHOOK_SECRET: couriers.webhookSecret,
    // A development stack: the supplier simulator (npm run demo:supplier) runs on this machine.
    SUPPLIER_URLS_ALLOW_LOOPBACK: process.env.SUPPLIER_URLS_ALLOW_LOOPBACK ?? 'true',
  };
  say('  Starting the worker and the API');
  await Promise.all([startService('worker', env), startService('api', env)]);
  await waitUntil(
    'API readiness',
    async () => (await fetch(`http://${config.api.host}:${config.api.port}/readyz`)).ok,
    {
      timeoutMs: 60_000,
    },
  );
  say(
    banner(
      config,
      temporalUi,
      temporalAddress,
      stripe.banner,
      webhooks.banner,
      legacy.banner,
      couriers.banner,
    ),
  );
} catch (error) {
  say(`Flowdesk could not start: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1, 'start failed');
}
