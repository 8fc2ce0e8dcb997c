import { serve } from '@hono/node-server';
import { createDb } from '../db/client.js';
import { configOrExit, requireSetting } from '../runtime/config.js';
import { onShutdown } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { createTemporalClient } from '../runtime/temporal.js';
import { VERSION } from '../runtime/version.js';
import { createApp } from './app.js';
import { createApiMetrics } from './metrics.js';

const config = configOrExit();
const logger = createLogger(config, 'api');
const db = createDb(requireSetting(config.database.url, 'DATABASE_URL'), config.database.poolSize);
const { client: temporal, connection } = createTemporalClient(config);
const app = createApp({ config, db, temporal, logger }, { metrics: createApiMetrics(), version: VERSION });

const server = serve({ fetch: app.fetch, hostname: config.api.host, port: config.api.port }, (info) => {
  logger.info({ address: info.address, port: info.port }, 'API listening');
  process.send?.({ type: 'ready', service: 'api' });
});

onShutdown(logger, async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db.destroy();
  await connection.close();
});
