import { Agent, request } from 'node:http';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { saveDictionary } from '../db/analytics/dictionaries.js';
import { kpis } from '../db/analytics/reports.js';
import { saveCycles, saveSla, saveUrgentRules, saveWorkingHours } from '../db/analytics/settings.js';
import { createSource } from '../db/analytics/sources.js';
import { recordStatusEvents } from '../db/analytics/statusLog.js';
import { KEYCRM_GROUPS } from '../integrations/crm/keycrm.js';
import { createSecretBox } from '../runtime/secretBox.js';
import { DEFAULT_STATUSES } from '../scripts/simulators/crm.js';
import { openStream } from '../test/helpers/sse.js';
import { startBenchStack } from './lib/stack.js';
import { measure, summarize, writeReport } from './lib/stats.js';

/**
 * Status analytics, three measures on one stack:
 * - **Intake**: 10,000 KeyCRM status webhooks (a fifth of them repeats) posted to the API, 32 in flight, against
 *   recording the same events straight into the log from the harness (no HTTP, no verification).
 * - **KPIs**: `GET /v1/analytics/kpis` over 1,000,000 status events of one source (100,000 orders, working-hours
 *   calendars, SLA grids, cycles, urgent rules), for a month and for the whole year, against the same KPIs as the
 *   single SQL statement run directly on PostgreSQL (target: the API's p99 at most 1.5 times that), and, to show
 *   what the figures themselves cost, a bare aggregate of elapsed time per status group over the same events.
 * - **Fan-out**: 200 subscribers of `GET /v1/stream/orders`; from a webhook's POST to each subscriber's event.
 */
const INTAKE_EVENTS = Number(process.env.BENCH_EVENTS ?? 10_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 32);
const LOG_ORDERS = Number(process.env.BENCH_ORDERS ?? 100_000);
const EVENTS_PER_ORDER = 10;
const KPI_REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 200);
const FANOUT_EVENTS = Number(process.env.BENCH_FANOUT_EVENTS ?? 50);

const stack = await startBenchStack();
const tenantId = stack.tenant.id;
const secrets = createSecretBox([{ id: 'bench', key: Buffer.alloc(32, 7) }]);
const change = { tenantId, actor: { type: 'system' as const, id: 'bench' }, requestId: 'bench' };
async function newSource(name: string) {
  const { source, webhookSecret } = await createSource(stack.db, secrets, {
    ...change,
    kind: 'keycrm',
    name,
    baseUrl: 'http://127.0.0.1:9/v1',
    apiToken: 'bench-token',
    timezone: 'Europe/Kyiv',
    allowedIps: [],
    active: true,
  });
  await saveDictionary(stack.db, {
    tenantId,
    sourceId: source.id,
    groups: KEYCRM_GROUPS,
    statuses: DEFAULT_STATUSES.map((s, position) => ({
      statusId: String(s.id),
      name: s.name,
      alias: s.alias,
      groupId: String(s.group_id),
      active: true,
      position,
    })),
    complete: true,
  });
  return { id: source.id, path: `${source.webhookPath}?secret=${webhookSecret}` };
}

const PATH = [1, 20, 21, 22, 7, 8, 11, 12];
const at = (order: number, step: number) =>
  new Date(Date.UTC(2026, 0, 1) + (order % 300) * 86_400_000 + step * (1 + ((order * step) % 7)) * 3_600_000);
const webhookOf = (order: number, step: number) =>
  JSON.stringify({
    event: 'order.change_order_status',
    context: {
      id: order,
      status_id: PATH[step % PATH.length],
      status_changed_at: at(order, step).toISOString(),
    },
  });

const agent = new Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
function post(path: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(`${stack.apiUrl}${path}`),
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`answered ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const rows: Record<string, unknown>[] = [];
const notes: string[] = [];
try {
  // 1. Intake.
  const viaApi = await newSource('intake via API');
  const direct = await newSource('intake direct');
  const unique = Math.round(INTAKE_EVENTS * 0.8);
  const deliveries = Array.from({ length: unique }, (_, i) => ({ order: Math.floor(i / 8), step: i % 8 }));
  deliveries.push(...deliveries.slice(0, INTAKE_EVENTS - unique));
  deliveries.sort(() => Math.random() - 0.5);
  const bodies = deliveries.map((d) => webhookOf(d.order, d.step));
  const intakeApi = await measure(bodies.length, IN_FLIGHT, (i) => post(viaApi.path, bodies[i] ?? ''));
  const intakeDirect = await measure(deliveries.length, IN_FLIGHT, (i) => {
    const d = deliveries[i] ?? { order: 0, step: 0 };
    return recordStatusEvents(stack.db, {
      tenantId,
      sourceId: direct.id,
      events: [
        {
          orderId: String(d.order),
          statusId: String(PATH[d.step % PATH.length]),
          changedAt: at(d.order, d.step),
        },
      ],
    });
  });
  const logged = await stack.db
    .selectFrom('status_events')
    .select(['source_id', sql<number>`count(*)::int`.as('n')])
    .where('source_id', 'in', [viaApi.id, direct.id])
    .groupBy('source_id')
    .execute();
  for (const row of logged)
    if (row.n !== unique)
      throw new Error(`intake recorded ${row.n} events, not ${unique}: duplicated or lost`);
  const intake = (label: string, run: { latencies: number[]; seconds: number }) => {
    const summary = summarize(run.latencies);
    return {
      measure: `intake ${label}`,
      n: summary.n,
      perSecond: Math.round(run.latencies.length / run.seconds),
      p50Ms: summary.p50,
      p99Ms: summary.p99,
    };
  };
  rows.push(intake('webhook → API', intakeApi), intake('direct to the log', intakeDirect));

  // 2. KPIs over a million events.
  const big = await newSource('a million events');
  await sql`
    insert into analytics_orders (tenant_id, source_id, order_id, items, items_state)
    select ${tenantId}, ${big.id}, o::text,
      jsonb_build_array(jsonb_build_object('sku', case when o % 10 = 0 then 'RUSH' else 'SIGN' end,
        'offerId', (o % 50)::text, 'productId', '7', 'quantity', 1)), 'fetched'
    from generate_series(1, ${LOG_ORDERS}) o`.execute(stack.db);
  await sql`
    insert into status_events (tenant_id, source_id, order_id, status_id, status_changed_at)
    select ${tenantId}, ${big.id}, o::text,
      (array[${sql.join(PATH)}]::int[])[1 + (k % ${PATH.length})]::text,
      timestamptz '2026-01-01 00:00:00+00' + (o % 300) * interval '1 day'
        + k * (1 + (o * k) % 7) * interval '1 hour' + (o % 3600) * interval '1 second'
    from generate_series(1, ${LOG_ORDERS}) o, generate_series(0, ${EVENTS_PER_ORDER - 1}) k`.execute(
    stack.db,
  );
  await sql`analyze status_events`.execute(stack.db);
  await sql`analyze analytics_orders`.execute(stack.db);
  const onBig = { ...change, sourceId: big.id };
  const weekdays = [
    ['09:00', '13:00'],
    ['14:00', '18:00'],
  ] as [string, string][];
  await saveWorkingHours(stack.db, onBig, {
    calendars: [
      {
        groupId: '*',
        timezone: 'Europe/Kyiv',
        week: {
          mon: [['08:00', '20:00']],
          tue: [['08:00', '20:00']],
          wed: [['08:00', '20:00']],
          thu: [['08:00', '20:00']],
          fri: [['08:00', '20:00']],
          sat: [['10:00', '16:00']],
          sun: [],
        },
        holidays: ['2026-01-01', '2026-01-07', '2026-05-01'],
      },
      {
        groupId: '3',
        timezone: 'Europe/Kyiv',
        week: { mon: weekdays, tue: weekdays, wed: weekdays, thu: weekdays, fri: weekdays, sat: [], sun: [] },
        holidays: ['2026-01-01', '2026-01-07', '2026-05-01'],
      },
    ],
  });
  await saveSla(stack.db, onBig, {
    nearFraction: 0.8,
    profiles: [
      {
        profile: 'default',
        limits: ['1', '2', '3', '4'].map((groupId) => ({ groupId, normal: '8:00', urgent: '4:00' })),
      },
    ],
  });
  await saveCycles(stack.db, onBig, {
    cycles: [
      {
        code: 'to_delivery',
        name: 'To delivery',
        start: { kind: 'group', ref: '1' },
        end: { kind: 'group', ref: '4' },
      },
      {
        code: 'full',
        name: 'Full cycle',
        start: { kind: 'status', ref: '1' },
        end: { kind: 'group', ref: '5' },
      },
    ],
  });
  await saveUrgentRules(stack.db, onBig, { rules: [{ match: 'sku', value: 'RUSH' }] });

  const aggregate = (from: string, to: string) => () =>
    sql`
    select coalesce(st.group_id, '') as group_id, count(*) as intervals,
      avg(extract(epoch from e.left_at - e.status_changed_at)) as average,
      percentile_cont(0.5) within group (order by extract(epoch from e.left_at - e.status_changed_at)) as median
    from (
      select order_id, status_id, status_changed_at,
        lead(status_changed_at) over (partition by order_id order by status_changed_at, id) as left_at
      from status_events where source_id = ${big.id}
    ) e
    left join source_statuses st on st.source_id = ${big.id} and st.status_id = e.status_id
    where e.left_at is not null and e.status_changed_at >= ${from}::timestamptz and e.status_changed_at < ${to}::timestamptz
    group by 1`.execute(stack.db);
  const timed = async (work: () => Promise<unknown>) => {
    const t0 = performance.now();
    await work();
    return performance.now() - t0;
  };
  const windows = [
    { label: 'one month', from: '2026-06-01T00:00:00Z', to: '2026-07-01T00:00:00Z', repeats: KPI_REPEATS },
    { label: 'the whole year', from: '2026-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z', repeats: 3 },
  ];
  for (const window of windows) {
    const kpiUrl = `${stack.apiUrl}/v1/analytics/kpis?source=${big.id}&from=${window.from}&to=${window.to}`;
    const bare = aggregate(window.from, window.to);
    // The same KPIs as one statement run directly on PostgreSQL from here: what the API adds is the difference.
    const direct = () =>
      kpis(
        stack.db,
        { tenantId, sourceId: big.id, now: new Date() },
        { from: new Date(window.from), to: new Date(window.to), period: 'day' },
      );
    const kpiTimes: number[] = [];
    const directTimes: number[] = [];
    const aggregateTimes: number[] = [];
    await timed(bare);
    for (let i = 0; i < window.repeats; i++) {
      // Alternated, so no side has the warmer cache.
      aggregateTimes.push(await timed(bare));
      directTimes.push(await timed(direct));
      kpiTimes.push(
        await timed(async () => {
          const response = await fetch(kpiUrl, { headers: { authorization: `Bearer ${stack.key}` } });
          if (response.status !== 200)
            throw new Error(`KPIs answered ${response.status}: ${await response.text()}`);
          await response.json();
        }),
      );
    }
    const kpi = summarize(kpiTimes);
    const same = summarize(directTimes);
    const agg = summarize(aggregateTimes);
    const row = (measure: string, summary: typeof kpi) => ({
      measure,
      n: summary.n,
      perSecond: '',
      p50Ms: summary.p50,
      p99Ms: summary.p99,
    });
    rows.push(
      row(`KPIs, ${window.label} of ${LOG_ORDERS * EVENTS_PER_ORDER} events (API)`, kpi),
      row(`the same KPIs as one SQL statement, run directly`, same),
      row(`bare aggregate (elapsed time per group), ${window.label}`, agg),
    );
    notes.push(
      `KPIs for ${window.label}: the API's p99 is ${(kpi.p99 / same.p99).toFixed(2)} × the same statement run ` +
        `directly (target ≤ 1.5); the full figures cost ${(same.p99 / agg.p99).toFixed(2)} × a bare aggregate ` +
        'of elapsed time per group',
    );
  }

  // 3. Fan-out to subscribers.
  const fanned = await newSource('fan-out');
  const streams = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, () =>
      openStream(`${stack.apiUrl}/v1/stream/orders?source=${fanned.id}`, {
        authorization: `Bearer ${stack.key}`,
      }),
    ),
  );
  await Promise.all(streams.map((stream) => stream.next((e) => e.comment === 'connected', 30_000)));
  const delays: number[] = [];
  for (let i = 0; i < FANOUT_EVENTS; i++) {
    const from = streams.map((stream) => stream.events.length);
    const sent = Date.now();
    await post(fanned.path, webhookOf(500_000 + i, 0));
    const heard = await Promise.all(
      streams.map((stream, s) => stream.next((e) => e.event === 'order_updated', 10_000, from[s])),
    );
    delays.push(...heard.map((event) => event.at - sent));
    await sleep(20);
  }
  await Promise.all(streams.map((stream) => stream.close()));
  const fan = summarize(delays);
  rows.push({
    measure: `fan-out to ${SUBSCRIBERS} subscribers (POST → event)`,
    n: fan.n,
    perSecond: '',
    p50Ms: fan.p50,
    p99Ms: fan.p99,
  });

  notes.push(
    `intake via the API / direct: ${((rows[0]?.perSecond as number) / (rows[1]?.perSecond as number)).toFixed(2)} of the rate`,
    'Intake direct: recordStatusEvents from the harness, same events, same concurrency (no HTTP, no secret check).',
    'The aggregate computes plain elapsed intervals per group; the KPIs add working-hours calendars, stays, SLA, urgency, cycles and periods.',
  );
  process.stdout.write(
    await writeReport({
      name: 'status-analytics',
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      startedAt: new Date().toISOString(),
      rows,
      notes,
    }),
  );
} finally {
  agent.destroy();
  await stack.stop();
}
