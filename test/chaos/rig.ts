import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from '../helpers/api.js';
import { testEnvironment } from '../helpers/config.js';
import {
  checkoutCompletedEvent,
  postStripeWebhook,
  signingLinkFor,
  submitSigningForm,
} from '../helpers/flows.js';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp.js';
import { type StripeMock, startStripeMock } from '../helpers/stripeMock.js';
import { killProcess, startWorkerProcess } from '../helpers/workerProcess.js';

export const WEBHOOK_SECRET = 'whsec_test_chaos';

/** Everything a chaos scenario runs against: the API, worker processes, SMTP, stripe-mock, a tenant of its own. */
export interface Rig {
  api: TestApi;
  smtp: SmtpSink;
  tenant: TestTenant;
  key: string;
  workers: ChildProcess[];
  /** The run's seed: `CHAOS_SEED` replays it. Disturbances are scheduled from it, the drives' shuffles too. */
  seed: number;
  /** Random numbers in [0, 1) for the drives (shuffles, late deliveries), from the seed. */
  random: () => number;
  startWorker(): Promise<ChildProcess>;
  /**
   * Registers what runs alongside a scenario (a disturbance, the operator on duty) to be stopped first when the
   * rig stops: a scenario that fails midway must not leave workers restarting while the rig tears down.
   */
  alongside(stop: () => Promise<unknown>): void;
  log(line: string): void;
  stop(): Promise<void>;
}

/**
 * How long the outside world waits for a flow to get somewhere (the signing link, the invoice): as long as the
 * operator on duty may take, since under disturbance a flow may need several of its decisions on the way.
 */
const PATIENCE_MS = 1_200_000;

export async function startRig(
  name: string,
  /** `env`: settings for the API and the workers beyond the rig's own (a legacy system, a courier secret). */
  options: { temporalAddress?: string; env?: Record<string, string> } = {},
): Promise<Rig> {
  const [smtp, stripeMock]: [SmtpSink, StripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  const stripe = {
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  const taskQueue = `chaos-${name}-${Date.now()}`;
  const temporal: Record<string, string> = options.temporalAddress
    ? { TEMPORAL_ADDRESS: options.temporalAddress }
    : {};
  // A hundred customers sign from this one address: the public pages' rate limit is off here.
  const api = await startTestApi({
    env: {
      ...stripe,
      ...temporal,
      ...options.env,
      TEMPORAL_TASK_QUEUE: taskQueue,
      RATE_LIMIT_PER_KEY: '0',
      RATE_LIMIT_PER_ADDRESS: '0',
    },
  });
  const env = testEnvironment({
    ...stripe,
    ...temporal,
    ...options.env,
    TEMPORAL_TASK_QUEUE: taskQueue,
    SMTP_URL: smtp.url,
    PUBLIC_URL: api.url,
  });
  const tenant = await createTestTenant(api.deps.db);
  const workers: ChildProcess[] = [];
  const alongside: (() => Promise<unknown>)[] = [];
  const seed = chaosSeed();
  const log = (line: string) => process.stdout.write(`[chaos ${name}] ${line}\n`);
  log(`seed ${seed} (replay its schedule with CHAOS_SEED=${seed})`);
  return {
    api,
    smtp,
    tenant,
    key: await tenant.key(['coordinator', 'finance']),
    workers,
    seed,
    random: seeded(seed + 1),
    async startWorker() {
      const worker = await startWorkerProcess(env);
      workers.push(worker);
      return worker;
    },
    alongside: (stop) => alongside.push(stop),
    log,
    async stop() {
      for (const stop of alongside.splice(0)) await stop();
      for (const worker of workers) await killProcess(worker);
      await api.stop();
      await Promise.all([smtp.stop(), stripeMock.stop()]);
    },
  };
}

/** `CHAOS_SEED` when set (to replay a run), else a new one. */
function chaosSeed(): number {
  const given = process.env.CHAOS_SEED;
  if (given === undefined || given === '') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new Error(`CHAOS_SEED must be an integer, not ${given}`);
  return seed;
}

/** mulberry32: a small generator whose numbers in [0, 1) follow from its seed alone. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

const flowPath = (flowId: string) => `/v1/flows/${encodeURIComponent(flowId)}`;

/**
 * One proposal driven the way the outside world drives it: started (twice, as a retrying client would), signed
 * on the signing page and paid by a signed Stripe webhook, each delivered `deliveries` times in a shuffled order,
 * some of them late. Resolves with the flow id once the payment has been delivered.
 */
export async function driveProposal(rig: Rig, proposalId: string, deliveries = 1): Promise<string> {
  const client = apiClient(rig.api.url, rig.key);
  const email = `${proposalId.toLowerCase()}@example.com`;
  const body = {
    proposal: {
      proposalId,
      title: 'Battery storage',
      currency: 'EUR',
      customer: { name: 'Chaos Customer', email },
      lines: [{ description: 'Battery 10 kWh', quantity: 1, unitPrice: 480_000 }],
    },
    signing: { deadline: '1 hour', remindEvery: '1 hour' },
    payment: { dueIn: '1 hour', dunning: ['1 hour'] },
    retry: {
      maximumAttempts: 20,
      initialInterval: '200 milliseconds',
      maximumInterval: '2 seconds',
      attemptTimeout: '5 seconds',
    },
  };
  const [first, second] = await Promise.all([
    client.post('/v1/flows/proposal-to-payment', body),
    client.post('/v1/flows/proposal-to-payment', body),
  ]);
  // One of them starts it; when the drive is retried, both find it started.
  expect([first.status, second.status].every((status) => status === 200 || status === 201)).toBe(true);
  const flowId: string = first.body.flowId;

  const link = await signingLinkFor(rig.smtp, email, /ready to sign/, PATIENCE_MS);
  const form = { decision: 'sign', signerName: 'Chaos Customer', agree: 'yes' };
  await Promise.all(
    Array.from({ length: deliveries }, async (_, i) => {
      await sleep(i === 0 ? 0 : rig.random() * 2_000);
      const res = await submitSigningForm(rig.api.deps.db, link, form);
      expect(res.status).toBe(200);
    }),
  );

  await rig.smtp
    .waitFor(
      (m) => m.envelope.to.includes(email) && /^Invoice INV-/.test(m.parsed.subject ?? ''),
      PATIENCE_MS,
    )
    .catch(async (error) => {
      const row = await rig.api.deps.db
        .selectFrom('flows')
        .selectAll()
        .where('id', '=', flowId)
        .executeTakeFirst();
      throw new Error(`${error.message}; the flow: ${JSON.stringify(row)}`);
    });
  const invoice = await rig.api.deps.db
    .selectFrom('invoices')
    .select(['id', 'flow_id', 'tenant_id'])
    .where('tenant_id', '=', rig.tenant.tenantId)
    .where('invoice_key', '=', proposalId)
    .executeTakeFirstOrThrow();
  const events = [
    checkoutCompletedEvent(`evt_${proposalId}_done`, invoice, 480_000, 'checkout.session.completed', {
      payment_status: 'unpaid',
    }),
    checkoutCompletedEvent(
      `evt_${proposalId}_paid`,
      invoice,
      480_000,
      'checkout.session.async_payment_succeeded',
    ),
  ];
  const storm = shuffle(
    events.flatMap((event) => Array.from({ length: deliveries }, () => event)),
    rig.random,
  );
  await Promise.all(
    storm.map(async (payload, i) => {
      // Some arrive late: after the flow has long moved on.
      await sleep(i % 3 === 2 ? 1_000 + rig.random() * 3_000 : rig.random() * 300);
      const res = await postStripeWebhook(rig.api.url, payload, WEBHOOK_SECRET);
      expect(res.status).toBe(200);
    }),
  );
  return flowId;
}

/** The decisions the flows took from the operator on duty, by kind, from their audit trail. */
export type OperatorDecisions = Record<'fallback' | 'resend' | 'retry', number>;

/**
 * The operator, on duty while the scenario runs: an email whose delivery was interrupted is looked up in the
 * mail server (here, the SMTP sink) by its Message-ID, as a person reads the server's log. A message the server
 * has taken in full and accepted is confirmed by hand; one it never took is sent again; one it holds but has
 * not yet accepted is looked at again later, as a person would wait for the log to say. Any other failing step
 * is retried. Each flow is decided on its own, so one that is slow to answer (its worker was just killed)
 * keeps no other waiting. `done()` waits until the given flows have all completed and returns the decisions.
 */
export function startOperator(rig: Rig, timeoutMs = PATIENCE_MS) {
  const client = apiClient(rig.api.url, rig.key);
  const deciding = new Set<string>();
  let stopped = false;
  const decideOn = async (flowId: string, error: string) => {
    const messageId = /Message-ID (<[^>]+>)/.exec(error)?.[1];
    const copies = rig.smtp.messages.filter((m) => m.parsed.messageId === messageId);
    if (messageId && copies.some((m) => !m.acknowledged)) return;
    const [kind, decision] = !messageId
      ? (['retry', { action: 'retry' }] as const)
      : copies.length > 0
        ? (['fallback', { action: 'fallback', note: `the mail server has ${messageId}` }] as const)
        : (['resend', { action: 'retry', input: { resend: true } }] as const);
    const res = await client.post(`${flowPath(flowId)}/resolve`, decision);
    // 409: decided already (the row had not caught up); 503: not answered in time, and may still be taken.
    if (res.status !== 409) rig.log(`${flowId}: ${kind} → ${res.status} (${error.slice(0, 160)})`);
  };
  const lookAround = async () => {
    const stuck = await rig.api.deps.db
      .selectFrom('flows')
      .select(['id', 'attention'])
      .where('tenant_id', '=', rig.tenant.tenantId)
      .where('flow_type', '=', 'proposalToPayment')
      .where('state', '=', 'needs_attention')
      .execute();
    for (const row of stuck.filter((row) => !deciding.has(row.id))) {
      deciding.add(row.id);
      void decideOn(row.id, String(row.attention?.error ?? ''))
        .catch((error) => rig.log(`operator: ${row.id}: ${error} ${error?.cause ?? ''}`))
        .finally(() => deciding.delete(row.id));
    }
  };
  const onDuty = (async () => {
    while (!stopped) {
      await lookAround().catch((error) => rig.log(`operator: ${error} ${error?.cause ?? ''}`));
      await sleep(500);
    }
  })();
  const goOffDuty = async () => {
    stopped = true;
    await onDuty;
    while (deciding.size > 0) await sleep(100);
  };
  rig.alongside(goOffDuty);
  return {
    async done(flowIds: string[]): Promise<OperatorDecisions> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await despiteDrops(() =>
          rig.api.deps.db.selectFrom('flows').select(['id', 'state']).where('id', 'in', flowIds).execute(),
        );
        if (rows.length === flowIds.length && rows.every((row) => row.state === 'completed')) break;
        if (Date.now() > deadline) {
          const open = rows.filter((row) => row.state !== 'completed').map((row) => `${row.id}=${row.state}`);
          throw new Error(`not completed in time: ${open.join(', ')}`);
        }
        await sleep(500);
      }
      await goOffDuty();
      return decisionsTaken(rig);
    },
  };
}

/**
 * A query of the rig's own (watching, not acting) asked again when the chaos it causes took its connection: a
 * scenario that drops PostgreSQL connections must not fail on its own observer.
 */
async function despiteDrops<T>(query: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await query();
    } catch (error) {
      const dropped = /terminat|ECONNRESET|Connection|connect/i.test(String(error));
      if (!dropped || attempt >= 20) throw error;
      await sleep(250);
    }
  }
}

async function decisionsTaken(rig: Rig): Promise<OperatorDecisions> {
  const resolved = await rig.api.deps.db
    .selectFrom('domain_events')
    .select('payload')
    .where('tenant_id', '=', rig.tenant.tenantId)
    .where('type', '=', 'flow.attention.resolved')
    .execute();
  const decisions: OperatorDecisions = { fallback: 0, resend: 0, retry: 0 };
  for (const { payload } of resolved) {
    const input = payload.input as { resend?: boolean } | undefined;
    decisions[payload.action === 'fallback' ? 'fallback' : input?.resend ? 'resend' : 'retry']++;
  }
  return decisions;
}

/**
 * What must hold however the run was disturbed: every flow completed; every email delivered once per key; one
 * payment per invoice, for its total; invoice numbers unique and without gaps; each flow's milestones recorded
 * once; one Checkout Session per invoice (its idempotency key held across retries).
 */
export async function expectNothingLostOrDoubled(
  rig: Rig,
  flowIds: string[],
): Promise<Record<string, number>> {
  const { db } = rig.api.deps;
  const tenantId = rig.tenant.tenantId;
  const flows = await db.selectFrom('flows').select(['id', 'state']).where('id', 'in', flowIds).execute();
  expect(flows.filter((f) => f.state !== 'completed')).toEqual([]);

  const emails = await db
    .selectFrom('emails')
    .select(['idempotency_key', 'message_id'])
    .where('tenant_id', '=', tenantId)
    .execute();
  const doubled = countBy(rig.smtp.messages, (m) => m.parsed.messageId ?? '').filter(
    ([, count]) => count > 1,
  );
  expect(doubled).toEqual([]);
  // Three letters per flow: the signing link, the invoice, the receipt.
  expect(emails).toHaveLength(flowIds.length * 3);

  const invoices = await db
    .selectFrom('invoices')
    .select(['id', 'number', 'total', 'paid', 'state'])
    .where('tenant_id', '=', tenantId)
    .execute();
  expect(invoices).toHaveLength(flowIds.length);
  expect(invoices.filter((invoice) => invoice.state !== 'PAID' || invoice.paid !== invoice.total)).toEqual(
    [],
  );
  const numbers = invoices.map((invoice) => Number(invoice.number?.split('-')[2])).sort((a, b) => a - b);
  expect(numbers).toEqual(Array.from({ length: invoices.length }, (_, i) => i + 1));
  const payments = await db
    .selectFrom('payments')
    .select('invoice_id')
    .where('tenant_id', '=', tenantId)
    .execute();
  expect(payments).toHaveLength(invoices.length);
  const sessions = await db
    .selectFrom('checkout_sessions')
    .select('invoice_id')
    .where('tenant_id', '=', tenantId)
    .execute();
  expect(sessions).toHaveLength(invoices.length);

  const milestones = await db
    .selectFrom('domain_events')
    .select(['flow_id', 'type'])
    .where('tenant_id', '=', tenantId)
    .where('type', 'in', ['proposal.accepted', 'contract.signed', 'payment.received', 'flow.completed'])
    .execute();
  expect(countBy(milestones, (e) => `${e.type} ${e.flow_id}`).filter(([, count]) => count > 1)).toEqual([]);
  return {
    flows: flows.length,
    emails: emails.length,
    messagesReceived: rig.smtp.messages.length,
    invoices: invoices.length,
    payments: payments.length,
    milestoneEvents: milestones.length,
  };
}

/** Runs a drive again when it failed on a disturbed dependency, as Stripe and browsers retry: it is idempotent. */
export async function retrying<T>(run: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(1_000 * attempt);
    }
  }
}

/**
 * `count` proposals started `spacingMs` apart and driven to their payment (each drive retried when `retry`, for
 * disturbances the outside world retries through), with an operator on duty until every flow has completed.
 */
export async function driveAll(
  rig: Rig,
  prefix: string,
  count: number,
  options: { deliveries?: number; retry?: boolean; spacingMs?: number } = {},
): Promise<{ flowIds: string[]; operatorDecisions: OperatorDecisions }> {
  const operator = startOperator(rig);
  const run = Date.now().toString(36);
  const flowIds = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      await sleep(i * (options.spacingMs ?? 150));
      const drive = () => driveProposal(rig, `${prefix}-${run}-${i}`, options.deliveries);
      return options.retry ? retrying(drive) : drive();
    }),
  );
  return { flowIds, operatorDecisions: await operator.done(flowIds) };
}

/**
 * Runs `disturb` at random intervals, drawn from the rig's seed (the same seed, the same schedule), until
 * stopped (by the scenario, or by the rig when the scenario failed); `stop` resolves with how many times it ran.
 */
export function repeatedly(rig: Rig, minMs: number, maxMs: number, disturb: () => Promise<unknown>) {
  const random = seeded(rig.seed);
  let running = true;
  let times = 0;
  const loop = (async () => {
    while (running) {
      await sleep(minMs + random() * (maxMs - minMs));
      if (!running) break;
      await disturb();
      times++;
    }
  })();
  const stop = async (): Promise<number> => {
    running = false;
    await loop;
    return times;
  };
  rig.alongside(stop);
  return { stop };
}

function countBy<T>(items: T[], key: (item: T) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return [...counts.entries()];
}
