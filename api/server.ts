import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createDb, type Db } from '../db/client.js';
import { pruneWebhookPayloads } from '../db/retention.js';
import { sealStoredSupplierSecrets } from '../db/supplierSecrets.js';
import { createCourierPoller } from '../integrations/couriers/poller.js';
import { trackingApi } from '../integrations/couriers/trackingApi.js';
import { createStripeInbox } from '../integrations/payments/stripeInbox.js';
import { type Config, requireSetting } from '../runtime/config.js';
import type { Logger } from '../runtime/logger.js';
import { createSecretBox, type SecretBox } from '../runtime/secretBox.js';
import { createTemporalClient, createTemporalProbe } from '../runtime/temporal.js';
import { type AppOptions, createApp } from './app.js';
import type { ApiDeps } from './context.js';
import { type ApiMetrics, createApiMetrics, metricsEndpoint } from './metrics.js';
import { courierNewsHandler } from './routes/courierWebhook.js';
import { type Check, readinessChecks } from './routes/health.js';
import { tellFlowsOfStripeEvent } from './routes/stripeWebhook.js';
import { createStatusHub } from './statusHub.js';

export interface RunningApi {
  url: string;
  deps: ApiDeps;
  stop(): Promise<void>;
}

/** The API served over HTTP with its own database pool and Temporal connections; `stop` drains and closes them. */
export async function startApi(
  config: Config,
  options: {
    logger: Logger;
    version: string;
    checks?: Record<string, Check>;
    /** Overrides the configured port; 0 takes any free one. */
    port?: number;
    onAnswer?: AppOptions['onAnswer'];
  },
): Promise<RunningApi> {
  const db = createDb(requireSetting(config.database.url, 'DATABASE_URL'), config.database.poolSize);
  const { client: temporal, connection } = createTemporalClient(config);
  const probe = createTemporalProbe(config);
  const stripeInbox = createStripeInbox({
    db,
    logger: options.logger,
    tell: tellFlowsOfStripeEvent({ db, temporal, config }),
    taskQueue: config.temporal.taskQueue,
  });
  const secrets = createSecretBox(requireSetting(config.temporal.payloadKeys, 'PAYLOAD_KEYS'));
  const statusHub = createStatusHub({
    databaseUrl: requireSetting(config.database.url, 'DATABASE_URL'),
    logger: options.logger,
  });
  await statusHub.start();
  const deps: ApiDeps = { config, db, temporal, logger: options.logger, stripeInbox, secrets, statusHub };
  const metrics = createApiMetrics(db);
  const app = createApp(deps, {
    metrics,
    version: options.version,
    checks: options.checks ?? readinessChecks(db, probe),
    onAnswer: options.onAnswer,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      { fetch: app.fetch, hostname: config.api.host, port: options.port ?? config.api.port },
      () => resolve(s),
    );
  });
  const metricsServer = await serveMetricsApart(config, metrics);
  const stopUpkeep = upkeepHourly(db, config, secrets, options.logger);
  stripeInbox.start();
  const courierPoller = config.couriers.apiUrl
    ? createCourierPoller({
        db,
        logger: options.logger,
        tracking: trackingApi({ apiUrl: config.couriers.apiUrl, apiKey: config.couriers.apiKey }),
        apply: courierNewsHandler(deps),
      })
    : undefined;
  courierPoller?.start(config.couriers.pollEveryMs);
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    deps,
    async stop() {
      // Open streams would keep the server from closing: they end first.
      await statusHub.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) =>
        metricsServer ? metricsServer.close(() => resolve()) : resolve(),
      );
      stopUpkeep();
      await stripeInbox.stop();
      await courierPoller?.stop();
      await db.destroy();
      await connection.close();
      await probe.close();
    },
  };
}

/** /metrics on a port of its own (API_METRICS_PORT), e.g. one only the monitoring network reaches. */
async function serveMetricsApart(config: Config, metrics: ApiMetrics) {
  if (config.api.metrics.port === undefined) return undefined;
  const app = new Hono().get('/metrics', metricsEndpoint(metrics, config.api.metrics.token));
  return new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: config.api.host, port: config.api.metrics.port }, () =>
      resolve(s),
    );
  });
}

/**
 * The API's upkeep, at start and every hour, off the request path (the API starts, and says it is not ready,
 * while the database is down): webhook payloads older than WEBHOOK_PAYLOAD_DAYS cut down, and supplier secrets
 * stored in the clear by an earlier version sealed.
 */
function upkeepHourly(db: Db, config: Config, secrets: SecretBox, logger: Logger): () => void {
  const upkeep = async () => {
    await sealStoredSupplierSecrets(db, secrets);
    const pruned = await pruneWebhookPayloads(db, config.api.webhookPayloadDays);
    if (pruned > 0) logger.info({ pruned }, 'webhook payloads cut down to what the audit needs');
  };
  const run = () =>
    void upkeep().catch((error: unknown) =>
      logger.warn({ err: error }, 'upkeep failed; it runs again in an hour'),
    );
  run();
  const timer = setInterval(run, 3_600_000);
  timer.unref();
  return () => clearInterval(timer);
}
