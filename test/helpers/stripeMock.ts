import { startStripeMock as startServer } from '../../scripts/stack/stripeMock.js';
import { freePort } from './ports.js';

export interface StripeMock {
  /** http://127.0.0.1:<port>, for STRIPE_API_URL. */
  url: string;
  stop(): Promise<void>;
}

/** stripe-mock on a free port, for one test file. */
export async function startStripeMock(): Promise<StripeMock> {
  const { url, stop } = await startServer(await freePort());
  return { url, stop };
}
