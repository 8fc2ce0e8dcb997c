import os from 'node:os';
import { sql } from 'kysely';
import { startBenchStack } from './lib/stack.js';
import { measure, summarize, writeReport } from './lib/stats.js';

/**
 * Listing: `GET /v1/flows` with filters over 100,000 rows in `flows`, against a plain indexed SELECT of the same
 * rows (same filters, order and page size) from the harness. Reported: p99 of each, and the difference.
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const STATES = ['running', 'waiting', 'needs_attention', 'completed', 'cancelled'];
const TYPES = ['proposalToPayment', 'contractSigning', 'invoicePayment'];

const stack = await startBenchStack();
const tenant = stack.tenant.id;
await sql`
  insert into flows (id, tenant_id, flow_type, business_key, state, current_step, progress_done, progress_total,
                     title, attention, version, started_at, updated_at)
  select 'bench:' || i, ${tenant}, (array[${sql.join(TYPES)}])[1 + i % 3], 'B-' || i,
         (array[${sql.join(STATES)}])[1 + i % 5], 'step' || (i % 6), i % 6, 6, 'Flow ' || i, 'null', 1,
         now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval
  from generate_series(1, ${ROWS}) as i`.execute(stack.db);
await sql`analyze flows`.execute(stack.db);

const queries: { label: string; query: Record<string, string> }[] = [
  { label: 'newest first', query: {} },
  { label: 'type + state', query: { type: 'invoicePayment', state: 'waiting' } },
  { label: 'state', query: { state: 'needs_attention' } },
  { label: 'text', query: { q: 'B-4242' } },
];

function direct(filter: Record<string, string>) {
  let select = stack.db.selectFrom('flows').selectAll().where('tenant_id', '=', tenant);
  if (filter.type) select = select.where('flow_type', '=', filter.type);
  if (filter.state) select = select.where('state', '=', filter.state);
  if (filter.q) {
    const pattern = `%${filter.q}%`;
    select = select.where((eb) => eb.or([eb('id', 'ilike', pattern), eb('business_key', 'ilike', pattern)]));
  }
  return select.orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(51).execute();
}

async function throughApi(filter: Record<string, string>) {
  const res = await fetch(`${stack.apiUrl}/v1/flows?${new URLSearchParams(filter)}`, {
    headers: { authorization: `Bearer ${stack.key}` },
  });
  if (res.status !== 200) throw new Error(`list answered ${res.status}`);
  await res.arrayBuffer();
}

const rows: Record<string, unknown>[] = [];
try {
  for (const { label, query } of queries) {
    await measure(20, 4, () => throughApi(query));
    await measure(20, 4, () => direct(query));
    const p99 = { api: [] as number[], direct: [] as number[] };
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      p99.api.push(summarize((await measure(REQUESTS, 1, () => throughApi(query))).latencies).p99);
      p99.direct.push(summarize((await measure(REQUESTS, 1, () => direct(query))).latencies).p99);
    }
    const api = summarize(p99.api);
    const plain = summarize(p99.direct);
    rows.push({
      filter: label,
      'GET /v1/flows p99 ms (min/med/max)': `${api.min} / ${api.p50} / ${api.max}`,
      'indexed SELECT p99 ms': `${plain.min} / ${plain.p50} / ${plain.max}`,
      'added at p99 ms (median)': Math.round((api.p50 - plain.p50) * 100) / 100,
    });
  }
  const markdown = await writeReport({
    name: 'listing',
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    rows,
    notes: [
      `${ROWS} rows in one tenant; ${REQUESTS} sequential requests per repeat, ${REPEATS} repeats; pages of 50.`,
      'The API adds HTTP, the key check, validation and the JSON page; the SELECT runs from the harness process.',
    ],
  });
  process.stdout.write(markdown);
} finally {
  await stack.stop();
}
