import { createWriteStream } from 'node:fs';
import { PRIVATE_FILE } from '../../runtime/privateFiles.js';
import { findTool, type ToolSpec } from '../tools.js';
import { type ManagedProcess, spawnManaged } from './process.js';

export const STRIPE_CLI: ToolSpec = {
  name: 'Stripe CLI',
  binary: 'stripe',
  envVar: 'STRIPE_CLI',
  goPackage: 'github.com/stripe/stripe-cli/cmd/stripe@latest',
  alternatives: [
    'brew install stripe/stripe-cli/stripe',
    'download a release from https://github.com/stripe/stripe-cli/releases and set STRIPE_CLI to the binary',
  ],
};

/** Where Stripe's events come from under `npm start`, and so which signing secret the API verifies them with. */
export type StripeWebhookPlan =
  /** STRIPE_WEBHOOK_SECRET is set: the secret of a Dashboard endpoint (live mode) or of your own `stripe listen`. */
  | { source: 'configured' }
  /** A test-mode key and the Stripe CLI here: `stripe listen` forwards the account's events, with its secret. */
  | { source: 'stripe-listen'; cli: string }
  /**
   * The development secret kept in the data folder: stripe-mock sends no events, so the demo and tests sign their
   * own with it. With a real key, `advice` says what to run or set to receive the account's events.
   */
  | { source: 'development'; advice?: string };

export function stripeWebhookPlan(
  stripe: { secretKey?: string; webhookSecret?: string; apiUrl?: string },
  forwardTo: string,
): StripeWebhookPlan {
  if (stripe.webhookSecret) return { source: 'configured' };
  // STRIPE_API_URL points at another Stripe (stripe-mock): no real account sends events there.
  if (!stripe.secretKey || stripe.apiUrl) return { source: 'development' };
  if (stripe.secretKey.startsWith('sk_live_')) {
    return {
      source: 'development',
      advice: `live mode: create a webhook endpoint for ${forwardTo} in the Stripe Dashboard and set STRIPE_WEBHOOK_SECRET to its signing secret`,
    };
  }
  const cli = findTool(STRIPE_CLI);
  if (cli) return { source: 'stripe-listen', cli };
  return {
    source: 'development',
    advice: `to receive your test account's events, install the Stripe CLI and run: stripe listen --api-key $STRIPE_SECRET_KEY --forward-to ${forwardTo} (then restart with STRIPE_WEBHOOK_SECRET set to the whsec_… it prints, or with STRIPE_CLI set to the binary, and npm start runs it for you)`,
  };
}

export interface StripeListener {
  /** The signing secret `stripe listen` printed: the events it forwards are signed with it. */
  webhookSecret: string;
  process: ManagedProcess;
}

const READY = /Your webhook signing secret is (whsec_[A-Za-z0-9]+)/;

/**
 * Runs `stripe listen --forward-to`, which relays the test account's events to the API, and resolves with the
 * signing secret from its "Ready!" line. Everything it prints goes to its log.
 */
export function startStripeListener(options: {
  cli: string;
  apiKey: string;
  forwardTo: string;
  logFile: string;
  timeoutMs?: number;
}): Promise<StripeListener> {
  const listener = spawnManaged(
    'stripe listen',
    options.cli,
    ['listen', '--api-key', options.apiKey, '--forward-to', options.forwardTo],
    { stdio: ['ignore', 'pipe', 'pipe'], stopSignal: 'SIGINT' },
  );
  const log = createWriteStream(options.logFile, { flags: 'a', mode: PRIVATE_FILE });
  return new Promise((resolve, reject) => {
    let said = '';
    let ready = false;
    const timer = setTimeout(() => {
      void listener.stop();
      reject(
        new Error(
          `stripe listen printed no signing secret within ${(options.timeoutMs ?? 30_000) / 1000} s: ${said.slice(-500)}`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    const hear = (chunk: Buffer) => {
      log.write(chunk);
      if (ready) return;
      said = (said + chunk.toString('utf8')).slice(-4000);
      const secret = READY.exec(said)?.[1];
      if (secret) {
        ready = true;
        clearTimeout(timer);
        resolve({ webhookSecret: secret, process: listener });
      }
    };
    listener.child.stdout?.on('data', hear);
    listener.child.stderr?.on('data', hear);
    void listener.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`stripe listen exited with ${code} before it was ready: ${said.slice(-500)}`));
    });
  });
}
