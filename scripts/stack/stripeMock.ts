import { ensureTool, STRIPE_MOCK } from '../tools.js';
import { type ManagedProcess, spawnManaged, waitUntil } from './process.js';

export interface RunningStripeMock {
  /** http://127.0.0.1:<port>, for STRIPE_API_URL. */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Stripe's own mock server, answering the real API's shapes from its OpenAPI spec. */
export async function startStripeMock(port: number, logFile?: string): Promise<RunningStripeMock> {
  // Without -https-addr it also binds *:12112, and two servers on one machine would collide there.
  const args = ['-http-addr', `127.0.0.1:${port}`, '-https-addr', '127.0.0.1:'];
  const server = spawnManaged(
    'stripe-mock',
    ensureTool(STRIPE_MOCK),
    args,
    logFile ? { logFile } : { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      'stripe-mock',
      async () =>
        (await fetch(`${url}/v1/customers`, { headers: { authorization: 'Bearer sk_test_123' } })).ok,
      { process: server, timeoutMs: 30_000 },
    );
  } catch (error) {
    await server.stop(2_000);
    throw error;
  }
  return { url, process: server, stop: () => server.stop(5_000) };
}
