import { DefaultLogger } from '@temporalio/worker';
import type { Logger } from '../runtime/logger.js';

const TEMPORAL_LEVELS = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
} as const;

/** Routes the Temporal SDK's own log lines (worker, sandbox, core) into the same JSON log. */
export function temporalLogger(logger: Logger): DefaultLogger {
  return new DefaultLogger('INFO', (entry) => {
    logger[TEMPORAL_LEVELS[entry.level]]({ ...entry.meta }, entry.message);
  });
}
