import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

// bigint columns (flows.version) come back as strings rather than lose precision silently.
export function createDb(url: string, poolSize = 10): Db {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle connection whose server went away (a restart, a failover) reports here and is dropped by the pool;
  // the next query opens a new one. Without a listener, Node would end the whole process over it.
  pool.on('error', () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
