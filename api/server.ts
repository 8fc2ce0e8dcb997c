import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createDb } from '../db/client.js';
import { createStripeInbox } from '../integrations/payments/stripeInbox.js';
import { type Config, requireSetting } from '../runtime/config.js';
import type { Logger } from '../runtime/logger.js';
import { createTemporalClient, createTemporalProbe } from '../runtime/temporal.js';
import { createApp } from './app.js';
import type { ApiDeps } from './context.js';
import { createApiMetrics } from './metrics.js';
import { type Check, readinessChecks } from './routes/health.js';
import { tellFlowsOfStripeEvent } from './routes/stripeWebhook.js';

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
  },
): Promise<RunningApi> {
  const db = createDb(requireSetting(config.database.url, 'DATABASE_URL'), config.database.poolSize);
  const { client: temporal, connection } = createTemporalClient(config);
  const probe = createTemporalProbe(config);
  const stripeInbox = createStripeInbox({
    db,
    logger: options.logger,
    tell: tellFlowsOfStripeEvent({ db, temporal }),
  });
  const deps: ApiDeps = { config, db, temporal, logger: options.logger, stripeInbox };
  const app = createApp(deps, {
    metrics: createApiMetrics(db),
    version: options.version,
    checks: options.checks ?? readinessChecks(db, probe),
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      { fetch: app.fetch, hostname: config.api.host, port: options.port ?? config.api.port },
      () => resolve(s),
    );
  });
  stripeInbox.start();
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    deps,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await stripeInbox.stop();
      await db.destroy();
      await connection.close();
      await probe.close();
    },
  };
}
