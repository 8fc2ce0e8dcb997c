import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStripeListener, stripeWebhookPlan } from '../scripts/stack/stripeWebhooks.js';
import { startTestApi, type TestApi } from './helpers/api.js';
import { freePort } from './helpers/ports.js';

const STAND_IN = path.resolve('test/fixtures/stripeCliStandIn.mjs');
const ROUTE = 'http://127.0.0.1:3000/webhooks/stripe';
let folder: string;
const saved = { PATH: process.env.PATH, STRIPE_CLI: process.env.STRIPE_CLI };

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'flowdesk-stripe-cli-'));
});
afterEach(() => {
  process.env.PATH = saved.PATH;
  if (saved.STRIPE_CLI === undefined) delete process.env.STRIPE_CLI;
  else process.env.STRIPE_CLI = saved.STRIPE_CLI;
});
afterAll(() => rm(folder, { recursive: true, force: true }));

/** No Stripe CLI anywhere this machine would look. */
function withoutStripeCli(): void {
  delete process.env.STRIPE_CLI;
  process.env.PATH = folder;
}

describe('which Stripe events npm start receives, signed with which secret', () => {
  it('uses STRIPE_WEBHOOK_SECRET when it is set, whatever the key', () => {
    for (const secretKey of [undefined, 'sk_test_1', 'sk_live_1']) {
      expect(stripeWebhookPlan({ secretKey, webhookSecret: 'whsec_given' }, ROUTE)).toEqual({
        source: 'configured',
      });
    }
  });

  it('keeps the development secret for stripe-mock, which sends no events', () => {
    process.env.STRIPE_CLI = STAND_IN;
    expect(stripeWebhookPlan({}, ROUTE)).toEqual({ source: 'development' });
    expect(stripeWebhookPlan({ secretKey: 'sk_test_1', apiUrl: 'http://127.0.0.1:12111' }, ROUTE)).toEqual({
      source: 'development',
    });
  });

  it('runs stripe listen for a test-mode key when the Stripe CLI is here', async () => {
    await writeFile(path.join(folder, 'stripe'), '#!/bin/sh\n');
    await chmod(path.join(folder, 'stripe'), 0o755);
    process.env.PATH = folder;
    delete process.env.STRIPE_CLI;
    expect(stripeWebhookPlan({ secretKey: 'sk_test_1' }, ROUTE)).toEqual({
      source: 'stripe-listen',
      cli: path.join(folder, 'stripe'),
    });
    process.env.STRIPE_CLI = STAND_IN;
    expect(stripeWebhookPlan({ secretKey: 'sk_test_1' }, ROUTE)).toEqual({
      source: 'stripe-listen',
      cli: STAND_IN,
    });
    await rm(path.join(folder, 'stripe'));
  });

  it('says the one command to run for a test-mode key without the Stripe CLI', () => {
    withoutStripeCli();
    const plan = stripeWebhookPlan({ secretKey: 'sk_test_1' }, ROUTE);
    expect(plan.source).toBe('development');
    expect(plan.source === 'development' && plan.advice).toContain(
      `stripe listen --api-key $STRIPE_SECRET_KEY --forward-to ${ROUTE}`,
    );
  });

  it('never listens in live mode: a Dashboard endpoint and its secret are needed', () => {
    process.env.STRIPE_CLI = STAND_IN;
    const plan = stripeWebhookPlan({ secretKey: 'sk_live_1' }, ROUTE);
    expect(plan.source).toBe('development');
    expect(plan.source === 'development' && plan.advice).toMatch(/Dashboard.*STRIPE_WEBHOOK_SECRET/);
  });
});

describe('stripe listen, as npm start runs it', () => {
  let api: TestApi | undefined;
  afterAll(() => api?.stop());

  it('takes the signing secret it prints, and the event it forwards is verified and recorded once', async () => {
    // The API starts after the listener, with the secret it printed: as npm start does.
    const port = await freePort();
    const route = `http://127.0.0.1:${port}/webhooks/stripe`;
    const logFile = path.join(folder, 'stripe-listen.log');
    const listener = await startStripeListener({
      cli: STAND_IN,
      apiKey: 'sk_test_standin',
      forwardTo: route,
      logFile,
    });
    try {
      expect(listener.webhookSecret).toMatch(/^whsec_[0-9a-f]{32}$/);
      api = await startTestApi({
        port,
        env: {
          STRIPE_SECRET_KEY: 'sk_test_standin',
          STRIPE_WEBHOOK_SECRET: listener.webhookSecret,
        },
      });
      const answered = await waitForLine(logFile, /<--\s+\[(\d+)\] POST (\S+) \[(evt_\w+)\]/);
      expect(answered.slice(1, 3)).toEqual(['200', route]);
      const receipts = await api.deps.db
        .selectFrom('webhook_receipts')
        .select('event_type')
        .where('source', '=', 'stripe')
        .where('external_id', '=', answered[3] ?? '')
        .execute();
      expect(receipts).toEqual([{ event_type: 'checkout.session.async_payment_failed' }]);
      expect(await readFile(logFile, 'utf8')).toContain('api key sk_test_');
    } finally {
      await listener.process.stop();
    }
  });
});

async function waitForLine(file: string, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    const found = pattern.exec(await readFile(file, 'utf8').catch(() => ''));
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${file} never said ${pattern}: ${await readFile(file, 'utf8').catch(() => '')}`);
}
