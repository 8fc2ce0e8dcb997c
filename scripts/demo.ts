import { setTimeout as sleep } from 'node:timers/promises';
import {
  call,
  config,
  issuedInvoice,
  linkFromOutbox,
  payByStripe,
  runDemo,
  say,
  secret,
  signAsCustomer,
} from './demo/client.js';

/**
 * `npm run demo`, against a running `npm start`: one proposal from acceptance to payment. It signs on the signing
 * page as the customer would (the link comes from the email, in the outbox folder) and pays with a correctly signed
 * Stripe webhook, printing each step as the flow reaches it.
 */
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
      say(await signAsCustomer(await linkFromOutbox(email, /http:\/\/\S+\/sign\/[^\s"]+/), 'Ada Lovelace'));
      signed = true;
    }
    if (status.waitingFor === 'awaitPayment' && !paid) {
      const invoiceFlow = flowId.replace(/^proposal:/, 'invoice:');
      const invoice = await issuedInvoice(key, invoiceFlow);
      const answer = await payByStripe(
        { ...invoice, tenantId: me.tenantId, flowId, key: proposalId },
        webhookSecret,
      );
      say(`Stripe reported invoice ${invoice.number} paid (signed webhook): ${answer}`);
      paid = true;
    }
    await sleep(200);
  }
}

runDemo(main);
