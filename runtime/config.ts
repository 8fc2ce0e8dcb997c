import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { type PayloadKey, parsePayloadKeys } from './payloadCodec.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const portNumber = z.coerce
  .number({ error: 'must be a port number' })
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be a port number from 1 to 65535' })
  .max(65535, { error: 'must be a port number from 1 to 65535' });
const port = (fallback: number) => portNumber.default(fallback);

const positiveInt = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .positive({ error: 'must be greater than 0' })
    .default(fallback);

const urlWith = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { error: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((value) => ['true', '1', 'yes'].includes(value));

const existingFile = z
  .string()
  .refine((file) => existsSync(file), { error: 'names a file that does not exist' });

const hostPort = z
  .string()
  .regex(/^[^\s:/]+:\d{1,5}$/, { error: 'must be host:port, for example 127.0.0.1:7233' });

/** Every environment variable Flowdesk reads. Unset and empty are the same thing. */
const environmentSchema = z.object({
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  DATA_DIR: z.string().default('data'),

  HOST: z.string().default('127.0.0.1'),
  PORT: port(3000),
  PUBLIC_URL: urlWith(['http:', 'https:']).optional(),

  DATABASE_URL: urlWith(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_SIZE: positiveInt(10),
  EMBEDDED_POSTGRES_PORT: port(54329),

  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: z
    .string()
    .regex(/^[\w.-]+$/, { error: 'must be a namespace name' })
    .default('default'),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS: boolean.optional(),
  TEMPORAL_TLS_CLIENT_CERT_PATH: existingFile.optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: existingFile.optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: existingFile.optional(),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('flowdesk'),
  PAYLOAD_KEYS: z
    .string()
    .transform((setting, ctx) => {
      const keys = parsePayloadKeys(setting);
      if (typeof keys === 'string') ctx.addIssue({ code: 'custom', message: keys });
      return typeof keys === 'string' ? z.NEVER : keys;
    })
    .optional(),
  TEMPORAL_UI_URL: urlWith(['http:', 'https:']).optional(),
  TEMPORAL_DEV_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),
  TEMPORAL_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[\w.-]{1,100}$/, { error: 'letters, digits, . _ - only' })
    .default('flowdesk'),

  DECISION_WAIT_SECONDS: positiveInt(15),
  API_METRICS_PORT: portNumber.optional(),
  WEBHOOK_PAYLOAD_DAYS: positiveInt(30),
  RATE_LIMIT_PER_KEY: z.coerce.number({ error: 'must be a number' }).int().min(0).default(600),
  RATE_LIMIT_PER_ADDRESS: z.coerce.number({ error: 'must be a number' }).int().min(0).default(60),
  TRUSTED_PROXIES: z
    .string()
    .refine(
      (list) =>
        list
          .split(',')
          .every(
            (entry) =>
              /^[0-9a-f.:]+(\/\d{1,3})?$/i.test(entry.trim()) && isIP(entry.trim().split('/')[0] ?? '') !== 0,
          ),
      { error: 'must be IP addresses or CIDR ranges, comma-separated' },
    )
    .transform((list) => list.split(',').map((entry) => entry.trim()))
    .default([]),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),

  WORKER_METRICS_PORT: port(9464),
  WORKER_SHUTDOWN_GRACE_SECONDS: positiveInt(10),
  WORKER_MAX_CACHED_WORKFLOWS: positiveInt(1000),
  WORKER_PROMOTE: boolean.default(true),
  WORKER_RECONCILE_SECONDS: positiveInt(30),

  SMTP_URL: urlWith(['smtp:', 'smtps:']).optional(),
  EMAIL_FROM: z.string().default('Flowdesk <flowdesk@localhost>'),
  OPS_EMAIL: z.email({ error: 'must be an email address' }).default('operations@localhost'),

  SIGNING_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  COMPANY_NAME: z.string().min(1).default('Flowdesk Installations'),
  SUPPLIER_URLS_ALLOW_LOOPBACK: boolean.default(false),
  DOCUSIGN_CONNECT_SECRET: z.string().min(16, { error: 'must be a DocuSign Connect HMAC key' }).optional(),

  STRIPE_SECRET_KEY: z.string().startsWith('sk_', { error: 'must be a Stripe secret key (sk_…)' }).optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .startsWith('whsec_', { error: 'must be a Stripe webhook signing secret (whsec_…)' })
    .optional(),
  STRIPE_API_URL: urlWith(['http:', 'https:']).optional(),
  STRIPE_MOCK_PORT: port(12111),

  LEGACY_URL: urlWith(['http:', 'https:']).optional(),
  LEGACY_TOKEN: z.string().min(1).optional(),
  LEGACY_BREAK_AFTER: positiveInt(5),
  LEGACY_HALF_OPEN_SECONDS: positiveInt(30),

  COURIER_WEBHOOK_SECRET: z.string().min(16).optional(),
  COURIER_API_URL: urlWith(['http:', 'https:']).optional(),
  COURIER_API_KEY: z.string().min(1).optional(),
  COURIER_POLL_SECONDS: positiveInt(300),
  CRM_RATE_PER_MINUTE: positiveInt(60),
  CRM_SYNC_SECONDS: positiveInt(10),
  CRM_STATUS_REFRESH_MINUTES: positiveInt(60),
  STREAM_HEARTBEAT_SECONDS: positiveInt(15),
  FLOW_STATUS_RELAY_MS: positiveInt(250),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config {
  logLevel: Environment['LOG_LEVEL'];
  dataDir: string;
  /** `decisionWaitMs`: how long a staff decision waits for its flow to act before the API answers 503. */
  /**
   * `metrics`: where /metrics is served: on a port of its own (`port`, on `host`, not on the API's port), and/or
   * only to a Bearer `token`; open on the API's port when neither is set.
   */
  api: {
    host: string;
    port: number;
    publicUrl: string;
    decisionWaitMs: number;
    metrics: { port?: number; token?: string };
    /** How long webhook payloads are kept whole before they are cut down (db/retention.ts). */
    webhookPayloadDays: number;
    /** Requests a minute per API key on /v1, and per client address on the customer pages; 0: no limit. */
    rateLimits: { perKey: number; perAddress: number };
    /** Reverse proxies whose X-Forwarded-For is believed (api/clientAddress.ts). */
    trustedProxies: string[];
  };
  database: { url?: string; poolSize: number; embeddedPort: number };
  temporal: {
    address?: string;
    namespace: string;
    taskQueue: string;
    uiUrl: string;
    devPort: number;
    uiPort: number;
    /** The Worker Deployment this service's workers belong to; each build of the workflow code is a version of it. */
    deploymentName: string;
    /** The raw TEMPORAL_* variables, read by @temporalio/envconfig to build the connection. */
    env: Record<string, string>;
    /** The keys payloads are encrypted with, the first for new ones (runtime/payloadCodec.ts). */
    payloadKeys?: PayloadKey[];
  };
  /** `promote`: a worker makes its build the deployment's current version when it starts (new flows go to it). */
  /** `reconcileEveryMs`: how often the worker compares open flows with Temporal (terminated, reset, stuck). */
  worker: {
    metricsPort: number;
    shutdownGraceSeconds: number;
    maxCachedWorkflows: number;
    promote: boolean;
    reconcileEveryMs: number;
  };
  /** `ops`: where notices for people go (a supplier order running late). */
  email: { smtpUrl?: string; from: string; outboxDir: string; ops: string };
  /** Signs customer links (signing pages); the same secret must reach the API and the worker. */
  signingSecret?: string;
  companyName: string;
  /** Where suppliers' APIs may be: loopback (and plain http to it) only in development. */
  supplierUrls: { allowLoopback: boolean };
  /** Verifies DocuSign Connect messages (its HMAC key); without it, /webhooks/esign/docusign refuses everything. */
  docusignConnectSecret?: string;
  stripe: { secretKey?: string; webhookSecret?: string; apiUrl?: string; mockPort: number };
  /**
   * The legacy device-and-asset system automation steps talk to; its circuit opens after `breakAfter` failures in
   * a row and lets one call try again after `halfOpenAfterMs`.
   */
  legacy: { url?: string; token?: string; breakAfter: number; halfOpenAfterMs: number };
  /**
   * Courier tracking as an AfterShip account reports it: `webhookSecret` verifies its webhooks; couriers without
   * webhooks are polled at `apiUrl` (with `apiKey`) every `pollEveryMs`.
   */
  couriers: { webhookSecret?: string; apiUrl?: string; apiKey?: string; pollEveryMs: number };
  /**
   * Outside CRMs: calls per minute per API token (KeyCRM allows 60), how often the worker fetches what is due
   * (order items, dictionaries), and how often each source's status dictionary is fetched again.
   */
  crm: { ratePerMinute: number; syncEveryMs: number; statusRefreshMs: number };
  /** Server-Sent Events streams: a comment every `heartbeatMs` keeps proxies from closing a quiet stream. */
  stream: { heartbeatMs: number };
  /** How often the worker relays flows' new audit events to the status log (db/analytics/flowStatuses.ts). */
  flowStatusRelayMs: number;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; errors: string[] };

function withoutEmptyValues(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
    ),
  );
}

/** Variables whose values are secrets: an error names them, never shows them. */
const SECRET_VARIABLES = new Set([
  'PAYLOAD_KEYS',
  'METRICS_TOKEN',
  'SIGNING_SECRET',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'DOCUSIGN_CONNECT_SECRET',
  'TEMPORAL_API_KEY',
  'LEGACY_TOKEN',
  'COURIER_WEBHOOK_SECRET',
  'COURIER_API_KEY',
]);

/** A rejected value as an error may show it: secrets redacted, and a URL's password. */
function shownValue(name: string, value: string): string {
  if (SECRET_VARIABLES.has(name)) return '<redacted>';
  return JSON.stringify(value.replace(/^([a-z][\w+.-]*:\/\/[^:/@\s]*):[^@\s]*@/i, '$1:<redacted>@'));
}

export function loadConfig(rawEnv: NodeJS.ProcessEnv = process.env): ConfigResult {
  const env = withoutEmptyValues(rawEnv);
  const parsed = environmentSchema.safeParse(env);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name}=${shownValue(name, env[name] ?? '')}: ${issue.message}`;
    });
    return { ok: false, errors };
  }
  const e = parsed.data;
  const apiUrl = `http://${e.HOST}:${e.PORT}`;
  return {
    ok: true,
    config: {
      logLevel: e.LOG_LEVEL,
      dataDir: path.resolve(e.DATA_DIR),
      api: {
        host: e.HOST,
        port: e.PORT,
        publicUrl: (e.PUBLIC_URL ?? apiUrl).replace(/\/$/, ''),
        decisionWaitMs: e.DECISION_WAIT_SECONDS * 1000,
        metrics: { port: e.API_METRICS_PORT, token: e.METRICS_TOKEN },
        webhookPayloadDays: e.WEBHOOK_PAYLOAD_DAYS,
        rateLimits: { perKey: e.RATE_LIMIT_PER_KEY, perAddress: e.RATE_LIMIT_PER_ADDRESS },
        trustedProxies: e.TRUSTED_PROXIES,
      },
      database: {
        url: e.DATABASE_URL,
        poolSize: e.DATABASE_POOL_SIZE,
        embeddedPort: e.EMBEDDED_POSTGRES_PORT,
      },
      temporal: {
        address: e.TEMPORAL_ADDRESS,
        namespace: e.TEMPORAL_NAMESPACE,
        taskQueue: e.TEMPORAL_TASK_QUEUE,
        uiUrl: (e.TEMPORAL_UI_URL ?? `http://127.0.0.1:${e.TEMPORAL_UI_PORT}`).replace(/\/$/, ''),
        devPort: e.TEMPORAL_DEV_PORT,
        uiPort: e.TEMPORAL_UI_PORT,
        deploymentName: e.TEMPORAL_DEPLOYMENT_NAME,
        env: Object.fromEntries(Object.entries(env).filter(([name]) => name.startsWith('TEMPORAL_'))),
        payloadKeys: e.PAYLOAD_KEYS,
      },
      worker: {
        metricsPort: e.WORKER_METRICS_PORT,
        shutdownGraceSeconds: e.WORKER_SHUTDOWN_GRACE_SECONDS,
        maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
        promote: e.WORKER_PROMOTE,
        reconcileEveryMs: e.WORKER_RECONCILE_SECONDS * 1000,
      },
      email: {
        smtpUrl: e.SMTP_URL,
        from: e.EMAIL_FROM,
        ops: e.OPS_EMAIL,
        outboxDir: path.join(path.resolve(e.DATA_DIR), 'outbox'),
      },
      signingSecret: e.SIGNING_SECRET,
      companyName: e.COMPANY_NAME,
      supplierUrls: { allowLoopback: e.SUPPLIER_URLS_ALLOW_LOOPBACK },
      docusignConnectSecret: e.DOCUSIGN_CONNECT_SECRET,
      stripe: {
        secretKey: e.STRIPE_SECRET_KEY,
        webhookSecret: e.STRIPE_WEBHOOK_SECRET,
        apiUrl: e.STRIPE_API_URL,
        mockPort: e.STRIPE_MOCK_PORT,
      },
      legacy: {
        url: e.LEGACY_URL,
        token: e.LEGACY_TOKEN,
        breakAfter: e.LEGACY_BREAK_AFTER,
        halfOpenAfterMs: e.LEGACY_HALF_OPEN_SECONDS * 1000,
      },
      couriers: {
        webhookSecret: e.COURIER_WEBHOOK_SECRET,
        apiUrl: e.COURIER_API_URL,
        apiKey: e.COURIER_API_KEY,
        pollEveryMs: e.COURIER_POLL_SECONDS * 1000,
      },
      crm: {
        ratePerMinute: e.CRM_RATE_PER_MINUTE,
        syncEveryMs: e.CRM_SYNC_SECONDS * 1000,
        statusRefreshMs: e.CRM_STATUS_REFRESH_MINUTES * 60_000,
      },
      stream: { heartbeatMs: e.STREAM_HEARTBEAT_SECONDS * 1000 },
      flowStatusRelayMs: e.FLOW_STATUS_RELAY_MS,
    },
  };
}

/** For entry points: a bad environment stops the process with one line per bad variable. */
export function configOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  const result = loadConfig(env);
  if (result.ok) return result.config;
  process.stderr.write(`Flowdesk cannot start: the configuration is invalid.\n${result.errors.join('\n')}\n`);
  process.exit(78);
}

/** Services that need a database or Temporal refuse to run without one, naming the variable. */
export function requireSetting<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    process.stderr.write(`Flowdesk cannot start: ${name} is not set.\n`);
    process.exit(78);
  }
  return value;
}
