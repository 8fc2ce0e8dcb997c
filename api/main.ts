import { configOrExit } from '../runtime/config.js';
import { onShutdown } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { VERSION } from '../runtime/version.js';
import { startApi } from './server.js';

const config = configOrExit();
const logger = createLogger(config, 'api');
const api = await startApi(config, { logger, version: VERSION });
logger.info({ url: api.url }, 'API listening');
process.send?.({ type: 'ready', service: 'api' });

onShutdown(logger, () => api.stop());
