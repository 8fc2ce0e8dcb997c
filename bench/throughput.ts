import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { proposalFlowId } from '../domain/proposalToPayment.js';
import {
  checkoutCompletedEvent,
  postStripeWebhook,
  signingLinkFor,
  submitSigningForm,
} from '../test/helpers/flows.js';
import { baselineParent, proceed } from './baseline/workflows.js';
import { BASELINE_TASK_QUEUE, STRIPE_WEBHOOK_SECRET, startBenchStack } from './lib/stack.js';
import { compareThroughput } from './lib/throughput.js';

/**
 * Flow throughput: N proposal-to-payment flows driven to completion through the API as users and providers
 * would (signing page, signed Stripe webhook), against the bare baseline of the same shape signalled directly,
 * both with at most C in flight. Target: Flowdesk's flows per second ≥ 0.8 × the baseline's.
 */
const FLOWS = Number(process.env.BENCH_FLOWS ?? 100);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 20);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

const stack = await startBenchStack({ worker: true });
await stack.startWorker({ TEMPORAL_TASK_QUEUE: BASELINE_TASK_QUEUE }, 'baseline-worker');
const run = randomBytes(3).toString('hex');

async function flowdeskFlow(proposalId: string) {
  const email = `${proposalId.toLowerCase()}@example.com`;
  const started = await fetch(`${stack.apiUrl}/v1/flows/proposal-to-payment`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      proposal: {
        proposalId,
        title: 'Heat pump',
        currency: 'EUR',
        customer: { name: 'Bench Customer', email },
        lines: [{ description: 'Heat pump', quantity: 1, unitPrice: 900_000 }],
      },
    }),
  });
  if (started.status !== 201) throw new Error(`start answered ${started.status}`);
  const link = await signingLinkFor(stack.smtp, email);
  const signed = await submitSigningForm(stack.db, link, {
    decision: 'sign',
    signerName: 'Bench Customer',
    agree: 'yes',
  });
  if (signed.status !== 200) throw new Error(`signing answered ${signed.status}`);
  await stack.smtp.waitFor(
    (m) => m.envelope.to.includes(email) && /^Invoice INV-/.test(m.parsed.subject ?? ''),
  );
  const invoice = await stack.db
    .selectFrom('invoices')
    .select(['id', 'flow_id', 'tenant_id'])
    .where('invoice_key', '=', proposalId)
    .executeTakeFirstOrThrow();
  const paid = await postStripeWebhook(
    stack.apiUrl,
    checkoutCompletedEvent(`evt_${proposalId}`, invoice, 900_000),
    STRIPE_WEBHOOK_SECRET,
  );
  if (paid.status !== 200) throw new Error(`webhook answered ${paid.status}`);
  await stack.client.workflow.getHandle(proposalFlowId(stack.tenant.slug, proposalId)).result();
}

/** Signals a child as soon as it exists, as the customer and Stripe answer as soon as they are asked. */
async function proceedWhenStarted(workflowId: string) {
  for (;;) {
    try {
      await stack.client.workflow.getHandle(workflowId).signal(proceed);
      return;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      await sleep(20);
    }
  }
}

async function baselineFlow(id: string) {
  const handle = await stack.client.workflow.start(baselineParent, {
    taskQueue: BASELINE_TASK_QUEUE,
    workflowId: id,
    args: [id],
  });
  await proceedWhenStarted(`${id}/contract`);
  await proceedWhenStarted(`${id}/invoice`);
  await handle.result();
}

try {
  const markdown = await compareThroughput({
    name: 'flow-throughput',
    unit: 'flows',
    count: FLOWS,
    inFlight: IN_FLIGHT,
    repeats: REPEATS,
    prefix: `P-${run}`,
    flowdesk: flowdeskFlow,
    baseline: baselineFlow,
    describe: {
      setting: '',
      flowdesk:
        'API start, contract rendered and emailed over SMTP, signed on the signing page, invoice and Stripe session (stripe-mock) emailed, signed webhook, receipt emailed; every state change published to PostgreSQL.',
      baseline:
        'the same workflows, activities, children and outside signals with activities that do nothing, signalled directly.',
    },
  });
  process.stdout.write(markdown);
} finally {
  await stack.stop();
}
