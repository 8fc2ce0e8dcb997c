import type { Logger } from './logger.js';

/**
 * Runs `shutdown` once on SIGTERM or SIGINT, or when the supervising `npm start` goes away (its IPC channel
 * closes), so a child never outlives the stack that started it. A second signal forces the exit.
 */
export function onShutdown(logger: Logger, shutdown: (reason: string) => Promise<void>): void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) {
      logger.warn({ reason }, 'forced exit');
      process.exit(1);
    }
    stopping = true;
    logger.info({ reason }, 'shutting down');
    shutdown(reason).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (process.send) process.on('disconnect', () => stop('supervisor gone'));
}
