import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import type { Db } from '../../db/client.js';

/**
 * A CRM's rate limit per API token, kept in the source's row so that every worker process draws from the same
 * bucket, and a call takes one token. The bucket holds a tenth of a minute's allowance and refills with the rest,
 * so no 60-second window ever holds more than `perMinute` calls. `take` waits until a token is there.
 */
export function crmThrottle(db: Db, perMinute: number) {
  const capacity = Math.max(1, Math.floor(perMinute / 10));
  const perSecond = Math.max(1, perMinute - capacity) / 60;
  const level = sql`least(${capacity}::float8,
    api_tokens + extract(epoch from clock_timestamp() - api_tokens_at) * ${perSecond}::float8)`;

  async function tryTake(sourceId: string): Promise<number> {
    const taken = await sql<{ id: string }>`
      update status_sources set api_tokens = ${level} - 1, api_tokens_at = clock_timestamp()
      where id = ${sourceId} and ${level} >= 1
      returning id`.execute(db);
    if (taken.rows.length > 0) return 0;
    const row = await sql<{
      level: number;
    }>`select ${level} as level from status_sources where id = ${sourceId}`.execute(db);
    const missing = 1 - (row.rows[0]?.level ?? 0);
    return Math.max(10, Math.ceil((missing / perSecond) * 1000));
  }

  return {
    async take(sourceId: string, signal?: AbortSignal): Promise<void> {
      for (;;) {
        const waitMs = await tryTake(sourceId);
        if (waitMs === 0) return;
        await sleep(waitMs, undefined, { signal });
      }
    },
  };
}

export type CrmThrottle = ReturnType<typeof crmThrottle>;
