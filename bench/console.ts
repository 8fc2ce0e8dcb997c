import os from 'node:os';
import { sql } from 'kysely';
import { flowCountsByState, listFlows } from '../db/flowList.js';
import { needsMe } from '../db/needsMe.js';
import { acceptInvitation, inviteStaff, signIn } from '../db/staff.js';
import { startBenchStack } from './lib/stack.js';
import { measure, summarize, writeReport } from './lib/stats.js';

/**
 * The ops console's pages over 100,000 flows in one tenant, 1 % of them with a problem (half of those a child's,
 * shown on its parent's row too), and 200 unapplied payments: each page's p99 as a signed-in person gets it,
 * against the same figures read directly from the harness. Target: every page ≤ 100 ms at p99.
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

const stack = await startBenchStack();
const tenant = stack.tenant.id;
await sql`
  insert into flows (id, tenant_id, flow_type, business_key, state, current_step, progress_done, progress_total,
                     title, attention, version, started_at, updated_at, ended_at, root_id)
  select 'bench:' || i, ${tenant}, 'invoicePayment', 'B-' || i,
         case when i % 100 = 0 then 'retrying' when i % 3 = 0 then 'completed' else 'waiting' end,
         'sendInvoice', 1, 6, 'Flow ' || i,
         case when i % 100 = 0 then jsonb_build_object('step', 'sendInvoice',
           'reason', case when i % 200 = 0 then 'retrying' else 'step_failed' end, 'error', 'SMTP 451 try later',
           'since', (now() - (i || ' minutes')::interval)::text, 'options', jsonb_build_array('retry', 'skip'),
           'attempt', 3)
         else 'null'::jsonb end, 1,
         now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval,
         case when i % 3 = 0 and i % 100 <> 0 then now() else null end,
         case when i % 200 = 0 then 'bench:parent:' || i end
  from generate_series(1, ${ROWS}) as i`.execute(stack.db);
// Half the problems are children's: their parents' rows show the same problem, naming the child.
await sql`
  insert into flows (id, tenant_id, flow_type, business_key, state, current_step, progress_done, progress_total,
                     title, attention, version, started_at, updated_at)
  select 'bench:parent:' || i, ${tenant}, 'proposalToPayment', 'P-' || i, 'retrying', 'invoice', 2, 4,
         'Proposal ' || i, f.attention || jsonb_build_object('flowId', f.id), 1, f.started_at, f.updated_at
  from generate_series(200, ${ROWS}, 200) as i join flows f on f.id = 'bench:' || i`.execute(stack.db);
await sql`
  insert into payments (tenant_id, source, external_id, amount, currency, received_at, recorded_by, state,
                        unapplied_reason)
  select ${tenant}, 'bank_transfer', 'BANK-' || i, 1000 + i, 'EUR', now() - (i || ' hours')::interval,
         '{}'::jsonb, 'unapplied', 'unknown_invoice'
  from generate_series(1, 200) as i`.execute(stack.db);
await sql`analyze`.execute(stack.db);

const invited = await inviteStaff(
  stack.db,
  { tenantId: tenant, email: 'ops@bench.example', name: 'Bench operator', roles: ['admin'] },
  { type: 'system', id: 'bench' },
);
if (!invited.invited) throw new Error('the bench operator exists already');
await acceptInvitation(stack.db, invited.inviteToken, 'a long bench password');
const session = await signIn(stack.db, 'ops@bench.example', 'a long bench password', 'bench');
if (!session) throw new Error('the bench operator could not sign in');

const pages = [
  { label: 'needs me now (everything)', path: '/console/needs-me', direct: () => needsMe(stack.db, tenant) },
  {
    label: 'needs me now (retrying)',
    path: '/console/needs-me?kind=retrying',
    direct: () => needsMe(stack.db, tenant, { kind: 'retrying' }),
  },
  {
    label: 'flows (newest first, counts per state)',
    path: '/console/flows',
    direct: () =>
      Promise.all([listFlows(stack.db, tenant, {}, { limit: 50 }), flowCountsByState(stack.db, tenant, {})]),
  },
  {
    label: 'flows (text search)',
    path: '/console/flows?q=B-4242',
    direct: () =>
      Promise.all([
        listFlows(stack.db, tenant, { q: 'B-4242' }, { limit: 50 }),
        flowCountsByState(stack.db, tenant, { q: 'B-4242' }),
      ]),
  },
  {
    label: 'one flow (steps, children, timeline)',
    path: `/console/flows/${encodeURIComponent('bench:parent:200')}`,
    direct: () =>
      Promise.all([
        stack.db.selectFrom('flows').selectAll().where('id', '=', 'bench:parent:200').executeTakeFirst(),
        stack.db.selectFrom('flows').select('id').where('parent_id', '=', 'bench:parent:200').execute(),
        stack.db
          .selectFrom('domain_events')
          .selectAll()
          .where('flow_id', '=', 'bench:parent:200')
          .limit(200)
          .execute(),
      ]),
  },
];

async function page(path: string) {
  const res = await fetch(`${stack.apiUrl}${path}`, {
    headers: { cookie: `flowdesk_session=${session?.token}` },
  });
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
  await res.arrayBuffer();
}

const rows: Record<string, unknown>[] = [];
try {
  for (const { label, path, direct } of pages) {
    await measure(20, 1, () => page(path));
    await measure(20, 1, direct);
    const p99 = { page: [] as number[], direct: [] as number[] };
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      p99.page.push(summarize((await measure(REQUESTS, 1, () => page(path))).latencies).p99);
      p99.direct.push(summarize((await measure(REQUESTS, 1, direct)).latencies).p99);
    }
    const shown = summarize(p99.page);
    const read = summarize(p99.direct);
    rows.push({
      page: label,
      'page p99 ms (min/med/max)': `${shown.min} / ${shown.p50} / ${shown.max}`,
      'its figures read directly, p99 ms': `${read.min} / ${read.p50} / ${read.max}`,
      'target ≤ 100 ms': shown.p50 <= 100 ? 'met' : 'not met',
    });
  }
  const markdown = await writeReport({
    name: 'console-pages',
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    rows,
    notes: [
      `${ROWS} flows in one tenant, ${ROWS / 100} with a problem and ${ROWS / 200} parents showing their child's; 200 unapplied payments. ${REQUESTS} sequential requests per repeat, ${REPEATS} repeats (the median repeat's p99 is judged).`,
      'A page: the session check, the figures, the HTML (the first 100 items, with every count). Directly: the same figures from the harness, no HTTP or HTML.',
    ],
  });
  process.stdout.write(markdown);
} finally {
  await stack.stop();
}
