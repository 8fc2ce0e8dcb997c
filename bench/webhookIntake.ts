import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import { invoiceActivities } from '../activities/invoices.js';
import { paymentReceived } from '../domain/invoice.js';
import { createMailer } from '../integrations/email/mailer.js';
import { checkoutCompletedEvent } from '../test/helpers/flows.js';
import { paymentSink } from './baseline/workflows.js';
import { cpuSeconds, harnessCpuSeconds } from './lib/cpu.js';
import { BASELINE_TASK_QUEUE, STRIPE_WEBHOOK_SECRET, startBenchStack } from './lib/stack.js';
import { measure, summarize, writeReport } from './lib/stats.js';

/**
 * Webhook intake: correctly signed Stripe `checkout.session.completed` events, a fifth of them repeats, posted
 * as fast as the API takes them, against signalling the same flows directly. Each event pays one cent on one of
 * the invoices; the flows are sinks that take the signal and do nothing, so both sides measure intake alone.
 * Duplicated or lost effects (payments, cents paid on the invoices, payment events) must be 0.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const INVOICES = Number(process.env.BENCH_INVOICES ?? 200);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 32);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const DUPLICATE_SHARE = 0.2;

const stack = await startBenchStack();
const sinkWorker = await stack.startWorker({ TEMPORAL_TASK_QUEUE: BASELINE_TASK_QUEUE }, 'baseline-worker');
const run = randomBytes(3).toString('hex');
const stripe = new Stripe('sk_test_bench');

const issuing = invoiceActivities({
  db: stack.db,
  mailer: createMailer({ outboxDir: os.tmpdir() }),
  from: 'bench@example.com',
  publicUrl: stack.apiUrl,
  companyName: 'Bench',
});
const invoices: { id: string; flow_id: string; tenant_id: string }[] = [];
for (let i = 0; i < INVOICES; i++) {
  const flowId = `sink-${run}-${i}`;
  await stack.client.workflow.start(paymentSink, { taskQueue: BASELINE_TASK_QUEUE, workflowId: flowId });
  const issued = await issuing.issueInvoice({
    tenantId: stack.tenant.id,
    invoiceKey: `W-${run}-${i}`,
    flowId,
    customer: { name: 'Bench', email: 'bench@example.com' },
    currency: 'EUR',
    lines: [{ description: 'Service', quantity: 1, unitPrice: 1_000_000 }],
    dueInMs: 86_400_000,
  });
  invoices.push({ id: issued.invoiceId, flow_id: flowId, tenant_id: stack.tenant.id });
}

/** Unique events, then a fifth of them again, shuffled in among the rest. */
function deliveries(repeat: number): string[] {
  const unique = Math.round(EVENTS * (1 - DUPLICATE_SHARE));
  const payloads = Array.from({ length: unique }, (_, i) => {
    const invoice = invoices[i % INVOICES];
    if (!invoice) throw new Error('no invoices');
    return checkoutCompletedEvent(`evt_${run}_${repeat}_${i}`, invoice, 1);
  });
  const all = [...payloads, ...payloads.slice(0, EVENTS - unique)];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j] ?? '', all[i] ?? ''];
  }
  return all;
}

/**
 * Stripe's side of a delivery, kept cheap so the harness does not weigh on the API's measure: payloads are
 * signed before the clock starts (a signature holds for 5 minutes), and sent over kept-alive connections.
 */
const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
const api = new URL(`${stack.apiUrl}/webhooks/stripe`);
function signed(payload: string): { id: string; payload: string; signature: string } {
  return {
    id: JSON.parse(payload).id,
    payload,
    signature: stripe.webhooks.generateTestHeaderString({ payload, secret: STRIPE_WEBHOOK_SECRET }),
  };
}
function postSigned({ payload, signature }: { payload: string; signature: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      api,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          'stripe-signature': signature,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve()
            : reject(new Error(`webhook answered ${res.statusCode}: ${Buffer.concat(chunks).toString()}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Waits until the inbox has relayed every event (its flows told); when each was. */
async function allRelayed(ids: string[]): Promise<{ id: string; relayedAt: number }[]> {
  for (;;) {
    const pending = await stack.db
      .selectFrom('webhook_receipts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('source', '=', 'stripe')
      .where('relayed_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(pending.n) === 0) break;
    await sleep(20);
  }
  const rows = await stack.db
    .selectFrom('webhook_receipts')
    .select(['external_id', 'relayed_at'])
    .where('source', '=', 'stripe')
    .where('external_id', 'in', ids)
    .execute();
  if (rows.length !== ids.length) throw new Error(`${ids.length - rows.length} events were never received`);
  return rows.map((row) => ({ id: row.external_id, relayedAt: row.relayed_at?.getTime() ?? Number.NaN }));
}

/** Waits until the Temporal server and the flows' worker are idle again (under 3 % of a core for 300 ms). */
async function settled(): Promise<void> {
  const busy = () => cpuSeconds([stack.pids.temporal, sinkWorker.pid]);
  for (let before = busy(), waited = 0; waited < 60_000; waited += 300) {
    await sleep(300);
    const now = busy();
    if (now - before < 0.01) return;
    before = now;
  }
}

async function signalDirectly({ payload }: { payload: string }) {
  const event = JSON.parse(payload);
  await stack.client.workflow.getHandle(event.data.object.metadata.flowId).signal(paymentReceived, {
    paymentId: event.id,
    amount: 1,
    source: 'stripe',
    occurredAt: new Date().toISOString(),
  });
}

const rows: Record<string, unknown>[] = [];
let duplicatedEffects = 0;
let lostEffects = 0;
let expectedPayments = 0;
try {
  const rates = { flowdesk: [] as number[], direct: [] as number[] };
  const p99 = { flowdesk: [] as number[], direct: [] as number[] };
  const p99Told = { flowdesk: [] as number[], direct: [] as number[] };
  // CPU per event of each process, to see where an event's cost goes (the harness, this process alone, sends
  // the direct signals and Stripe's deliveries).
  const roles: Record<string, () => number> = {
    api: () => cpuSeconds([stack.pids.api]),
    postgres: () => cpuSeconds(stack.pids.postgres ? [stack.pids.postgres] : []),
    server: () => cpuSeconds([stack.pids.temporal]),
    worker: () => cpuSeconds([sinkWorker.pid]),
    harness: harnessCpuSeconds,
  };
  const cpu = {
    flowdesk: Object.fromEntries(Object.keys(roles).map((role) => [role, [] as number[]])),
    direct: Object.fromEntries(Object.keys(roles).map((role) => [role, [] as number[]])),
  };
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    const events = deliveries(repeat).map(signed);
    expectedPayments += Math.round(EVENTS * (1 - DUPLICATE_SHARE));
    const order = repeat % 2 === 0 ? (['flowdesk', 'direct'] as const) : (['direct', 'flowdesk'] as const);
    for (const which of order) {
      const deliver = which === 'flowdesk' ? postSigned : signalDirectly;
      const before = Object.fromEntries(Object.entries(roles).map(([role, used]) => [role, used()]));
      const sentAt = new Map<string, number>();
      const started = performance.now();
      const { latencies, seconds: posted } = await measure(events.length, IN_FLIGHT, (i) => {
        const event = events[i] ?? { id: '', payload: '', signature: '' };
        if (!sentAt.has(event.id)) sentAt.set(event.id, Date.now());
        return deliver(event);
      });
      let seconds = posted;
      let told = latencies;
      if (which === 'flowdesk') {
        // Stripe has its answers; the events count once their flows are told.
        const relayed = await allRelayed([...sentAt.keys()]);
        seconds = (performance.now() - started) / 1000;
        told = relayed.map((row) => row.relayedAt - (sentAt.get(row.id) ?? 0));
      }
      // The flows take their signals after they were delivered: that work counts for the side that caused it.
      await settled();
      for (const [role, used] of Object.entries(roles))
        cpu[which][role]?.push(((used() - (before[role] ?? 0)) * 1000) / events.length);
      rates[which].push(events.length / seconds);
      p99[which].push(summarize(latencies).p99);
      p99Told[which].push(summarize(told).p99);
    }
  }
  const recorded = await stack.db
    .selectFrom('payments')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', stack.tenant.id)
    .executeTakeFirstOrThrow();
  // Each distinct event pays one cent: the invoices' paid amounts and their events must say the same.
  const money = await stack.db
    .selectFrom('invoices')
    .select((eb) => eb.fn.sum<string>('paid').as('paid'))
    .where('tenant_id', '=', stack.tenant.id)
    .executeTakeFirstOrThrow();
  const received = await stack.db
    .selectFrom('domain_events')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('tenant_id', '=', stack.tenant.id)
    .where('type', '=', 'payment.received')
    .executeTakeFirstOrThrow();
  const effects = [Number(recorded.n), Number(money.paid), Number(received.n)];
  duplicatedEffects = effects.reduce((sum, n) => sum + Math.max(0, n - expectedPayments), 0);
  lostEffects = effects.reduce((sum, n) => sum + Math.max(0, expectedPayments - n), 0);
  const spread = (values: number[], digits: number) => {
    const s = summarize(values);
    return [s.min, s.p50, s.max].map((v) => v.toFixed(digits)).join(' / ');
  };
  const ratios = rates.flowdesk.map((rate, i) => rate / (rates.direct[i] ?? 1));
  for (const which of ['flowdesk', 'direct'] as const) {
    rows.push({
      path: which === 'flowdesk' ? 'POST /webhooks/stripe' : 'signal directly',
      'events/s (min/med/max)': spread(rates[which], 0),
      'p99 ms answered': spread(p99[which], 1),
      'p99 ms flow told': spread(p99Told[which], 1),
      ...Object.fromEntries(
        Object.keys(roles).map((role) => [
          `CPU ms/event ${role}`,
          summarize(cpu[which][role] ?? []).p50.toFixed(2),
        ]),
      ),
    });
  }
  const ratio = summarize(ratios).p50;
  const markdown = await writeReport({
    name: 'webhook-intake',
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    rows,
    notes: [
      `${EVENTS} deliveries per repeat (${DUPLICATE_SHARE * 100} % repeats, shuffled) over ${INVOICES} invoices, at most ${IN_FLIGHT} in flight, ${REPEATS} repeats.`,
      `Ratio Flowdesk / direct (events per second, median): ${ratio.toFixed(2)} (per repeat: ${ratios.map((r) => r.toFixed(2)).join(', ')}); target ≥ 0.8: ${ratio >= 0.8 ? 'met' : 'not met'}.`,
      `For ${expectedPayments} distinct events: ${recorded.n} payments recorded, ${money.paid} cents paid on the invoices, ${received.n} payment.received events; duplicated effects: ${duplicatedEffects}, lost: ${lostEffects}.`,
      'Flowdesk: the webhook checks the signature, stores the receipt (deliveries arriving together in one insert) and answers; the inbox relay applies stored events in batches (the paid sessions of a batch, their balances and events in one statement, one transaction per batch), tells the flows through the API’s Temporal client (32 signals in flight, while the next batch is applied) and marks the receipts relayed. Events per second until the last flow is told; p99 answered: from sending to Stripe’s answer; p99 flow told: from sending to the receipt marked relayed (deliveries come faster than flows can be told, so they queue in the inbox while the run lasts). A repeat is stored once and not relayed again.',
      'Direct: the harness signals the same flows through its own Temporal client. CPU per event: user + system time of each process from the side’s start until the server and the flows’ worker are idle again (median of the repeats); events/s until the last signal is delivered.',
    ],
  });
  process.stdout.write(markdown);
} finally {
  await stack.stop();
}
process.exit(duplicatedEffects === 0 && lostEffects === 0 ? 0 : 1);
