import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import { api, call, config, runDemo, say, secret } from './demo/client.js';

/**
 * `npm run demo`, against a running `npm start`: one proposal from acceptance to payment. It signs on the signing
 * page as the customer would (the link comes from the email, in the outbox folder) and pays with a correctly signed
 * Stripe webhook, printing each step as the flow reaches it.
 */
/** The newest outbox email to `to` containing `pattern`; the demo runs without SMTP, so emails are files. */
async function linkFromOutbox(to: string, pattern: RegExp): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    const dir = config.email.outboxDir;
    const files = await readdir(dir).catch(() => [] as string[]);
    for (const file of files) {
      const text = (await readFile(path.join(dir, file), 'utf8')).replace(/=\r?\n/g, '');
      const link = pattern.exec(text)?.[0];
      if (text.includes(to) && link) return link.replace(/=3D/g, '=');
    }
    await sleep(150);
  }
  throw new Error(`no email to ${to} in ${config.email.outboxDir}`);
}

interface Status {
  state: string;
  currentStep: string | null;
  waitingFor: string | null;
  progress: { done: number; total: number };
  temporalUiUrl: string;
}

async function main() {
  if (config.email.smtpUrl) throw new Error('the demo reads emails from the outbox folder; unset SMTP_URL');
  const key = await secret('demo-api-key');
  const webhookSecret = config.stripe.webhookSecret ?? (await secret('stripe-webhook-secret'));
  const me = await call<{ tenantId: string }>('GET', '/v1/me', key);
  const proposalId = `DEMO-${Date.now()}`;
  const email = `ada+${proposalId.toLowerCase()}@example.com`;
  const { flowId } = await call<{ flowId: string }>('POST', '/v1/flows/proposal-to-payment', key, {
    proposal: {
      proposalId,
      title: 'Rooftop solar, 8 kWp',
      currency: 'EUR',
      customer: { name: 'Ada Lovelace', email },
      lines: [
        { description: 'Panel 400 W', quantity: 20, unitPrice: 18_000 },
        { description: 'Inverter and installation', quantity: 1, unitPrice: 240_000 },
      ],
    },
    signing: { deadline: '1 day', remindEvery: '1 hour' },
    payment: { dueIn: '14 days', dunning: ['3 days'] },
  });
  say(`started ${flowId}`);
  const route = `/v1/flows/${encodeURIComponent(flowId)}`;

  let last = '';
  let signed = false;
  let paid = false;
  for (;;) {
    const status = await call<Status>('GET', route, key);
    const line = `step ${status.progress.done} of ${status.progress.total}: ${status.state}${status.currentStep ? ` at ${status.currentStep}` : ''}${status.waitingFor ? ` (waiting for ${status.waitingFor})` : ''}`;
    if (line !== last) {
      say(line);
      last = line;
    }
    if (status.state === 'completed') {
      say(`done. Temporal UI: ${status.temporalUiUrl}`);
      return;
    }
    if (['needs_attention', 'failed', 'cancelled'].includes(status.state))
      throw new Error(`the flow is ${status.state}`);
    if (status.waitingFor === 'awaitSignature' && !signed) {
      const link = await linkFromOutbox(email, /http:\/\/\S+\/sign\/[^\s"]+/);
      const page = await (await fetch(link)).text();
      const documentSha256 = /name="documentSha256" value="([0-9a-f]{64})"/.exec(page)?.[1] ?? '';
      const form = new URLSearchParams({
        decision: 'sign',
        signerName: 'Ada Lovelace',
        agree: 'yes',
        documentSha256,
      });
      const response = await fetch(link, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      say(
        `customer signed on the signing page (document ${documentSha256.slice(0, 12)}…): ${response.status}`,
      );
      signed = true;
    }
    if (status.waitingFor === 'awaitPayment' && !paid) {
      const events = await call<{
        events: { type: string; payload: { invoiceId?: string; total?: number; number?: string } }[];
      }>('GET', `/v1/flows/${encodeURIComponent(flowId.replace(/^proposal:/, 'invoice:'))}/events`, key);
      const issued = events.events.find((event) => event.type === 'invoice.issued');
      if (!issued?.payload.invoiceId) throw new Error('no invoice.issued event');
      const payload = JSON.stringify({
        id: `evt_${proposalId}`,
        object: 'event',
        type: 'checkout.session.completed',
        created: Math.floor(Date.now() / 1000),
        data: {
          object: {
            id: `cs_${proposalId}`,
            object: 'checkout.session',
            amount_total: issued.payload.total,
            currency: 'eur',
            payment_status: 'paid',
            payment_intent: `pi_${proposalId}`,
            metadata: { tenantId: me.tenantId, invoiceId: issued.payload.invoiceId, flowId },
          },
        },
      });
      const signature = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({
        payload,
        secret: webhookSecret,
      });
      const response = await fetch(`${api}/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body: payload,
      });
      say(`Stripe reported invoice ${issued.payload.number} paid (signed webhook): ${response.status}`);
      paid = true;
    }
    await sleep(200);
  }
}

runDemo(main);
