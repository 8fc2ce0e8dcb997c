import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowNotFoundError } from '@temporalio/client';
import { contractFlowId } from '../domain/contract.js';
import { invoiceFlowId } from '../domain/invoice.js';
import { proposalFlowId } from '../domain/proposalToPayment.js';
import {
  checkoutCompletedEvent,
  postStripeWebhook,
  signingLinkFor,
  submitSigningForm,
} from '../test/helpers/flows.js';
import { baselineParent, proceed } from './baseline/workflows.js';
import {
  BASELINE_TASK_QUEUE,
  PLAIN_TASK_QUEUE,
  STRIPE_WEBHOOK_SECRET,
  startBenchStack,
} from './lib/stack.js';
import { compareThroughput } from './lib/throughput.js';

/**
 * Flow throughput: N proposal-to-payment flows driven to completion through the API as users and providers
 * would (signing page, signed Stripe webhook), with at most C in flight, against two baselines:
 * - plain: the same real work in hand-written workflows without the kernel (bench/plain), driven the same way
 *   through an API of its own on another task queue. Target: Flowdesk's flows per second ≥ 0.9 × plain's.
 * - bare: workflows of the same shape whose activities do nothing, signalled directly: the server's own limit.
 */
const FLOWS = Number(process.env.BENCH_FLOWS ?? 100);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 20);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

const stack = await startBenchStack();
const flowdeskWorker = await stack.startWorker();
const bareWorker = await stack.startWorker({ TEMPORAL_TASK_QUEUE: BASELINE_TASK_QUEUE }, 'baseline-worker');
// The plain side has an API of its own: links in its emails and its supplier's webhooks reach that one.
const plainApi = await stack.startApi({ TEMPORAL_TASK_QUEUE: PLAIN_TASK_QUEUE });
const plainWorker = await stack.startWorker(
  { TEMPORAL_TASK_QUEUE: PLAIN_TASK_QUEUE, PUBLIC_URL: plainApi.url },
  'plain-worker',
);
const run = randomBytes(3).toString('hex');

/** One proposal driven to payment through the API at `apiUrl`, as the customer and Stripe would. */
const proposalFlow = (apiUrl: string) => async (proposalId: string) => {
  const email = `${proposalId.toLowerCase()}@example.com`;
  const started = await fetch(`${apiUrl}/v1/flows/proposal-to-payment`, {
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
    apiUrl,
    checkoutCompletedEvent(`evt_${proposalId}`, invoice, 900_000),
    STRIPE_WEBHOOK_SECRET,
  );
  if (paid.status !== 200) throw new Error(`webhook answered ${paid.status}`);
  await stack.client.workflow.getHandle(proposalFlowId(stack.tenant.slug, proposalId)).result();
};

/** Workflow tasks completed and history events of the given flows together. */
async function historySize(flowIds: string[]): Promise<{ tasks: number; events: number }> {
  let tasks = 0;
  let events = 0;
  for (const flowId of flowIds) {
    const history = await stack.client.workflow.getHandle(flowId).fetchHistory();
    events += history.events?.length ?? 0;
    tasks += history.events?.filter((event) => event.workflowTaskCompletedEventAttributes).length ?? 0;
  }
  return { tasks, events };
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

const shared = { server: [stack.pids.temporal], postgres: stack.pids.postgres ? [stack.pids.postgres] : [] };
try {
  const markdown = await compareThroughput({
    name: 'flow-throughput',
    unit: 'flows',
    count: FLOWS,
    inFlight: IN_FLIGHT,
    repeats: REPEATS,
    prefix: `P-${run}`,
    setting: '',
    sides: [
      {
        name: 'flowdesk',
        run: proposalFlow(stack.apiUrl),
        pids: { ...shared, api: [stack.pids.api], worker: [flowdeskWorker.pid] },
        describe:
          'API start, contract rendered and emailed over SMTP, signed on the signing page, invoice and Stripe session (stripe-mock) emailed, signed webhook, receipt emailed; every state change published to PostgreSQL with its audit event, the kernel (pause, resume, decisions, retries, reminders, deadlines).',
      },
      {
        name: 'plain',
        run: proposalFlow(plainApi.url),
        pids: { ...shared, api: [plainApi.pid], worker: [plainWorker.pid] },
        describe:
          'the same API, activities, emails, Stripe session, signing page and webhooks, in hand-written workflows without the kernel: status in a query plus one flows row update per state change.',
      },
      {
        name: 'bare',
        run: baselineFlow,
        pids: { ...shared, api: [], worker: [bareWorker.pid] },
        describe:
          'workflows of the same shape (children, activities, outside signals) whose activities do nothing, signalled directly: the server’s own limit.',
      },
    ],
    targets: { plain: 0.9, bare: 0 },
    findings: async () =>
      Promise.all(
        (['flowdesk', 'plain'] as const).map(async (side) => {
          const proposalId = `P-${run}-${side}-0-0`;
          const ids = [proposalFlowId, contractFlowId, invoiceFlowId].map((flowId) =>
            flowId('bench', proposalId),
          );
          const { tasks, events } = await historySize(ids);
          return `${side}: one proposal to payment (parent and children) took ${tasks} workflow tasks and ${events} history events${side === 'flowdesk' ? ' (targets ≤ 20 and ≤ 150)' : ''}.`;
        }),
      ),
  });
  process.stdout.write(markdown);
} finally {
  await stack.stop();
}
