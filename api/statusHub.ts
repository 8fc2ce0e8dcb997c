import pg from 'pg';
import { STATUS_CHANNEL, type StatusNotice } from '../db/analytics/statusLog.js';
import type { Logger } from '../runtime/logger.js';

/**
 * One connection per API process that LISTENs on the status channel, and fans each notice out to the process's
 * stream subscribers of its tenant (and source, when they asked for one). PostgreSQL delivers a notice to every
 * listening process once the transaction that wrote it commits, so every API process's streams hear every change
 * whichever process received it. A lost connection is made again; subscribers are told to reload
 * (`invalidate`), since notices sent meanwhile were not heard.
 */

export interface StatusSubscription {
  tenantId: string;
  sourceId?: string;
}

export type StatusListener = (notice: StatusNotice | 'closed') => void;

export function createStatusHub(options: { databaseUrl: string; logger: Logger; reconnectMs?: number }) {
  const subscribers = new Map<StatusListener, StatusSubscription>();
  let client: pg.Client | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const deliver = (notice: StatusNotice) => {
    for (const [listener, wants] of subscribers)
      if (wants.tenantId === notice.tenantId && (!wants.sourceId || wants.sourceId === notice.sourceId))
        listener(notice);
  };

  async function connect(): Promise<void> {
    const next = new pg.Client({ connectionString: options.databaseUrl });
    next.on('notification', (message) => {
      if (message.channel !== STATUS_CHANNEL || !message.payload) return;
      try {
        deliver(JSON.parse(message.payload) as StatusNotice);
      } catch (error) {
        options.logger.warn({ err: error }, 'unreadable status notice ignored');
      }
    });
    next.on('error', (error) => {
      options.logger.warn({ err: error }, 'status stream connection lost; connecting again');
      void next.end().catch(() => undefined);
      if (client === next) reconnectSoon(true);
    });
    await next.connect();
    await next.query(`listen ${STATUS_CHANNEL}`);
    client = next;
  }

  function reconnectSoon(interrupted: boolean) {
    client = undefined;
    if (stopped) return;
    if (interrupted)
      for (const [listener, wants] of subscribers)
        listener({
          kind: 'invalidate',
          tenantId: wants.tenantId,
          sourceId: wants.sourceId ?? '',
          reason: 'interrupted',
        });
    clearTimeout(timer);
    timer = setTimeout(() => {
      connect().catch((error) => {
        options.logger.warn({ err: error }, 'status stream could not connect; trying again');
        reconnectSoon(false);
      });
    }, options.reconnectMs ?? 1000);
  }

  return {
    async start(): Promise<void> {
      await connect().catch((error) => {
        options.logger.warn({ err: error }, 'status stream could not connect; trying again');
        reconnectSoon(false);
      });
    },
    subscribe(wants: StatusSubscription, listener: StatusListener): () => void {
      subscribers.set(listener, wants);
      return () => subscribers.delete(listener);
    },
    get subscribers() {
      return subscribers.size;
    },
    /** Ends every subscriber's stream (so the server can close) and the connection. */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      for (const listener of subscribers.keys()) listener('closed');
      subscribers.clear();
      await client?.end().catch(() => undefined);
    },
  };
}

export type StatusHub = ReturnType<typeof createStatusHub>;
