import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../../runtime/config.js';
import { canConnect, startEmbeddedPostgres } from './postgres.js';

export interface DatabaseHandle {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export function embeddedPostgresDir(config: Config): string {
  return path.join(config.dataDir, 'postgres');
}

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL in the data folder — the one a running `npm start`
 * already serves, or a fresh start of it (stopped again by `stop()`).
 */
export async function openDatabase(config: Config): Promise<DatabaseHandle> {
  if (config.database.url) return { url: config.database.url, embedded: false, stop: async () => {} };
  const dir = embeddedPostgresDir(config);
  const passwordFile = path.join(dir, 'password');
  if (existsSync(passwordFile)) {
    const password = readFileSync(passwordFile, 'utf8').trim();
    const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${config.database.embeddedPort}/flowdesk`;
    if (await canConnect(url)) return { url, embedded: true, stop: async () => {} };
  }
  const server = await startEmbeddedPostgres(dir, config.database.embeddedPort);
  return { url: server.url, embedded: true, stop: () => server.stop() };
}
