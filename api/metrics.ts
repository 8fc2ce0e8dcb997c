import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { sql } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client.js';
import { problemResponse, problemType } from './problem.js';

export interface ApiMetrics {
  registry: Registry;
  middleware: ReturnType<typeof createMiddleware>;
}

export function createApiMetrics(db: Db): ApiMetrics {
  const registry = new Registry();
  stripeInboxGauges(registry, db);
  automationGauges(registry, db);
  fulfillmentGauges(registry, db);
  businessGauges(registry, db);
  collectDefaultMetrics({ register: registry, prefix: 'flowdesk_api_' });
  const duration = new Histogram({
    name: 'flowdesk_api_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const rejections = new Counter({
    name: 'flowdesk_webhook_rejections_total',
    help: 'Webhook deliveries refused (bad signature or secret, bad payload, unknown or switched-off sender), by source and status',
    labelNames: ['source', 'status'] as const,
    registers: [registry],
  });
  const middleware = createMiddleware(async (c, next) => {
    const end = duration.startTimer({ method: c.req.method });
    await next();
    // The route pattern, not the raw path, keeps label cardinality bounded.
    end({ route: routePath(c, -1) || 'unmatched', status: String(c.res.status) });
    const source = /^\/webhooks\/([a-z]+)/.exec(c.req.path)?.[1];
    if (source && c.res.status >= 400 && c.res.status < 500)
      rejections.inc({ source, status: String(c.res.status) });
  });
  return { registry, middleware };
}

/** GET /metrics, for Prometheus; with METRICS_TOKEN, only to `Authorization: Bearer <token>`. */
export function metricsEndpoint(metrics: ApiMetrics, token: string | undefined) {
  const expected = token ? Buffer.from(`Bearer ${token}`) : undefined;
  return async (c: Context) => {
    const presented = Buffer.from(c.req.header('authorization') ?? '');
    if (expected && (presented.length !== expected.length || !timingSafeEqual(presented, expected)))
      return problemResponse(
        {
          type: problemType('unauthenticated'),
          title: 'Authentication required',
          status: 401,
          detail: 'The metrics need the METRICS_TOKEN as "Authorization: Bearer <token>".',
        },
        { 'www-authenticate': 'Bearer' },
      );
    return c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType });
  };
}

/** A query the gauges of one scrape share: asked once, then forgotten for the next scrape. */
function oncePerScrape<T>(query: () => Promise<T>): () => Promise<T> {
  let read: Promise<T> | undefined;
  return () => {
    read ??= query().finally(() =>
      setImmediate(() => {
        read = undefined;
      }),
    );
    return read;
  };
}

/**
 * Stripe's inbox as ops watch it: deliveries stored and not yet applied or told to their flows, those waiting to
 * be tried again (a refund before its payment, flows that could not be reached), and how long the oldest waits.
 */
function stripeInboxGauges(registry: Registry, db: Db): void {
  const inbox = oncePerScrape(() =>
    sql<{ waiting: string; retrying: string; oldest: number | null }>`
      select count(*) as waiting, count(*) filter (where attempts > 0) as retrying,
             extract(epoch from now() - min(received_at))::float8 as oldest
      from webhook_receipts where source = 'stripe' and relayed_at is null`
      .execute(db)
      .then(({ rows: [row] }) => ({
        waiting: Number(row?.waiting ?? 0),
        retrying: Number(row?.retrying ?? 0),
        oldest: row?.oldest ?? 0,
      })),
  );
  const gauge = (name: string, help: string, pick: (figures: Awaited<ReturnType<typeof inbox>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(pick(await inbox()));
      },
    });
  gauge(
    'flowdesk_stripe_inbox_waiting',
    'Stripe deliveries stored, not yet applied or told to their flows',
    (f) => f.waiting,
  );
  gauge('flowdesk_stripe_inbox_retrying', 'Stripe deliveries waiting to be tried again', (f) => f.retrying);
  gauge(
    'flowdesk_stripe_inbox_oldest_seconds',
    'Age of the oldest Stripe delivery not yet relayed',
    (f) => f.oldest,
  );
}

/**
 * Automation steps as support watches them, per scenario (all tenants): steps by state, attempts spent, and the
 * share of ended steps the system completed by itself.
 */
function automationGauges(registry: Registry, db: Db): void {
  const byScenario = oncePerScrape(() =>
    sql<{ scenario: string; state: string; steps: string; attempts: string }>`
      select scenario, state, count(*) as steps, sum(attempts) as attempts
      from automation_steps group by scenario, state`
      .execute(db)
      .then(({ rows }) => rows),
  );
  new Gauge({
    name: 'flowdesk_automation_steps',
    help: 'Automation steps by scenario and state',
    labelNames: ['scenario', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await byScenario())
        this.set({ scenario: row.scenario, state: row.state }, Number(row.steps));
    },
  });
  new Gauge({
    name: 'flowdesk_automation_attempts',
    help: 'Attempts automation steps have spent, by scenario',
    labelNames: ['scenario'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const totals = new Map<string, number>();
      for (const row of await byScenario())
        totals.set(row.scenario, (totals.get(row.scenario) ?? 0) + Number(row.attempts));
      for (const [scenario, attempts] of totals) this.set({ scenario }, attempts);
    },
  });
  new Gauge({
    name: 'flowdesk_automation_success_ratio',
    help: 'Of the automation steps that ended, the share the system completed by itself, by scenario',
    labelNames: ['scenario'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const ended = new Map<string, { done: number; all: number }>();
      for (const row of await byScenario()) {
        if (!['completed', 'failed', 'fallback_triggered'].includes(row.state)) continue;
        const entry = ended.get(row.scenario) ?? { done: 0, all: 0 };
        entry.all += Number(row.steps);
        if (row.state === 'completed') entry.done += Number(row.steps);
        ended.set(row.scenario, entry);
      }
      for (const [scenario, { done, all }] of ended) this.set({ scenario }, done / all);
    },
  });
}

/**
 * How long hardware takes to reach customers, over what ended in the last 30 days (all tenants): from payment to
 * the order's completion, and from a shipment's handing to its courier to its delivery; median and 90th percentile.
 */
function fulfillmentGauges(registry: Registry, db: Db): void {
  const times = oncePerScrape(() =>
    sql<{ kind: string; p50: number | null; p90: number | null }>`
      select 'lead' as kind,
        percentile_cont(0.5) within group (order by extract(epoch from completed_at - paid_at)) as p50,
        percentile_cont(0.9) within group (order by extract(epoch from completed_at - paid_at)) as p90
      from orders where completed_at > now() - interval '30 days' and paid_at is not null
      union all
      select 'delivery',
        percentile_cont(0.5) within group (order by extract(epoch from delivered_at - dispatched_at)),
        percentile_cont(0.9) within group (order by extract(epoch from delivered_at - dispatched_at))
      from shipments where delivered_at > now() - interval '30 days' and dispatched_at is not null`
      .execute(db)
      .then(({ rows }) => rows),
  );
  const quantiles = (name: string, help: string, kind: string) =>
    new Gauge({
      name,
      help,
      labelNames: ['quantile'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const row = (await times()).find((each) => each.kind === kind);
        if (row?.p50 == null || row.p90 == null) return;
        this.set({ quantile: '0.5' }, Number(row.p50));
        this.set({ quantile: '0.9' }, Number(row.p90));
      },
    });
  quantiles(
    'flowdesk_fulfillment_lead_time_seconds',
    'From payment to the order’s completion, orders completed in the last 30 days',
    'lead',
  );
  quantiles(
    'flowdesk_shipment_delivery_time_seconds',
    'From handed to the courier to delivered, shipments delivered in the last 30 days',
    'delivery',
  );
}

/**
 * The business as ops watch it (all tenants): flows by type and state, how long the oldest problem has waited
 * for a person, and payments held unapplied (count and amount, per currency).
 */
function businessGauges(registry: Registry, db: Db): void {
  const figures = oncePerScrape(async () => {
    const [flows, oldest, unapplied] = await Promise.all([
      sql<{ flow_type: string; state: string; flows: string }>`
        select flow_type, state, count(*) as flows from flows group by flow_type, state`.execute(db),
      sql<{ seconds: number | null }>`
        select date_part('epoch', now() - min((attention ->> 'since')::timestamptz))::float8 as seconds
        from flows where jsonb_typeof(attention) = 'object' and ended_at is null`.execute(db),
      sql<{ currency: string; payments: string; amount: string }>`
        select currency, count(*) as payments, sum(amount) as amount from payments where state = 'unapplied'
        group by currency`.execute(db),
    ]);
    return { flows: flows.rows, oldest: oldest.rows[0]?.seconds ?? 0, unapplied: unapplied.rows };
  });
  new Gauge({
    name: 'flowdesk_flows',
    help: 'Flows by type and state',
    labelNames: ['flow_type', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of (await figures()).flows)
        this.set({ flow_type: row.flow_type, state: row.state }, Number(row.flows));
    },
  });
  new Gauge({
    name: 'flowdesk_attention_oldest_seconds',
    help: 'How long the oldest open problem (needs attention, or retrying) has waited for a person',
    registers: [registry],
    async collect() {
      this.set((await figures()).oldest);
    },
  });
  const unapplied = (
    name: string,
    help: string,
    pick: (row: { payments: string; amount: string }) => string,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: ['currency'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const row of (await figures()).unapplied)
          this.set({ currency: row.currency }, Number(pick(row)));
      },
    });
  unapplied(
    'flowdesk_unapplied_payments',
    'Payments held unapplied, waiting for finance',
    (row) => row.payments,
  );
  unapplied(
    'flowdesk_unapplied_payments_amount',
    'What the unapplied payments add up to, in minor units',
    (row) => row.amount,
  );
}
