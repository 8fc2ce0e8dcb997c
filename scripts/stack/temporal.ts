import path from 'node:path';
import { Connection } from '@temporalio/client';
import { flowSearchAttributes } from '../../domain/searchAttributes.js';
import { privateDir } from '../../runtime/privateFiles.js';
import { ensureTool, TEMPORAL_CLI } from '../tools.js';
import { type ManagedProcess, spawnManaged, waitUntil } from './process.js';

export interface TemporalDevServerOptions {
  port: number;
  uiPort: number;
  namespace: string;
  /** Keep state in this folder (SQLite file); in memory when absent. */
  dataDir?: string;
  logFile?: string;
  /** Where the Web UI asks to decode payloads (Flowdesk's /codec). */
  uiCodecEndpoint?: string;
}

export interface RunningTemporal {
  address: string;
  uiUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** The search attribute flags the dev server registers at start, so flows can upsert them from the first run. */
export function searchAttributeArgs(): string[] {
  return flowSearchAttributes.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
}

export async function isTemporalReachable(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * The Temporal CLI dev server bound to 127.0.0.1. With a data folder it keeps its state in a SQLite file in WAL
 * mode, so a restarted stack finds its workflows again.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<RunningTemporal> {
  const cli = ensureTool(TEMPORAL_CLI);
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--namespace',
    options.namespace,
    '--log-format',
    'json',
    '--log-level',
    'warn',
    ...searchAttributeArgs(),
    ...(options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
  ];
  if (options.dataDir) {
    await privateDir(options.dataDir);
    args.push(
      '--db-filename',
      path.join(options.dataDir, 'temporal.db'),
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
    );
  }
  const server = spawnManaged('temporal', cli, args, { logFile: options.logFile });
  const address = `127.0.0.1:${options.port}`;
  try {
    await waitUntil('Temporal dev server', () => isTemporalReachable(address, options.namespace), {
      process: server,
      timeoutMs: 90_000,
    });
  } catch (error) {
    await server.stop(2_000);
    throw error;
  }
  return {
    address,
    uiUrl: `http://127.0.0.1:${options.uiPort}`,
    process: server,
    stop: () => server.stop(),
  };
}
