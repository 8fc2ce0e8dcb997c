import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

// bigint columns (flows.version) come back as strings rather than lose precision silently.
export function createDb(url: string, poolSize = 10): Db {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A connection whose server went away (a restart, a failover) emits an error. Idle, the pool reports it here
  // and drops it; checked out (between the statements of a transaction, say), nothing listens, and Node would
  // end the whole process over it. The statement in flight or the next one fails instead, the caller's retry
  // takes a new connection, and the pool discards the broken one when it comes back.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
