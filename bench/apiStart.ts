import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { proposalFlowId } from '../domain/proposalToPayment.js';
import { BusinessKey, FlowState, FlowStep, TenantId } from '../domain/searchAttributes.js';
import { startBenchStack, TASK_QUEUE } from './lib/stack.js';
import { measure, summarize, writeReport } from './lib/stats.js';

/**
 * API start latency: `POST /v1/flows/proposal-to-payment` against the Temporal client's own `workflow.start`
 * of the same workflow with the same input, sequentially and at concurrency 32. Target: Flowdesk adds ≤ 3 ms
 * at p99. No worker runs, so only the start path is measured.
 */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 200);
const CONCURRENT = Number(process.env.BENCH_CONCURRENT ?? 640);

const stack = await startBenchStack();
const run = randomBytes(3).toString('hex');
const body = (proposalId: string) => ({
  proposal: {
    proposalId,
    title: 'Heat pump',
    currency: 'EUR',
    customer: { name: 'Bench Customer', email: 'bench@example.com' },
    lines: [{ description: 'Heat pump', quantity: 1, unitPrice: 900_000 }],
  },
});

async function throughApi(proposalId: string) {
  const res = await fetch(`${stack.apiUrl}/v1/flows/proposal-to-payment`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body(proposalId)),
  });
  if (res.status !== 201) throw new Error(`start answered ${res.status}: ${await res.text()}`);
}

async function direct(proposalId: string) {
  await stack.client.workflow.start('proposalToPayment', {
    taskQueue: TASK_QUEUE,
    workflowId: proposalFlowId(stack.tenant.slug, proposalId),
    args: [{ ...body(proposalId), tenantId: stack.tenant.id, tenantSlug: stack.tenant.slug }],
    typedSearchAttributes: [
      { key: TenantId, value: stack.tenant.id },
      { key: BusinessKey, value: proposalId },
      { key: FlowState, value: 'running' },
      { key: FlowStep, value: '' },
    ],
  });
}

const rows: Record<string, unknown>[] = [];
try {
  // Warm both paths (connections, JIT) before measuring.
  await measure(50, 8, (i) => throughApi(`warm-api-${run}-${i}`));
  await measure(50, 8, (i) => direct(`warm-direct-${run}-${i}`));
  for (const [mode, total, concurrency] of [
    ['sequential', SEQUENTIAL, 1],
    ['concurrency 32', CONCURRENT, 32],
  ] as const) {
    const p99 = { api: [] as number[], direct: [] as number[] };
    const p50 = { api: [] as number[], direct: [] as number[] };
    const rate = { api: [] as number[], direct: [] as number[] };
    for (let repeat = 0; repeat < REPEATS; repeat++) {
      // Alternate which path goes first, so neither always meets a warmer server.
      const order = repeat % 2 === 0 ? (['api', 'direct'] as const) : (['direct', 'api'] as const);
      for (const path of order) {
        const start = path === 'api' ? throughApi : direct;
        const { latencies, seconds } = await measure(total, concurrency, (i) =>
          start(`${path}-${mode.replace(/\W/g, '')}-${run}-${repeat}-${i}`),
        );
        const summary = summarize(latencies);
        p99[path].push(summary.p99);
        p50[path].push(summary.p50);
        rate[path].push(Math.round(total / seconds));
      }
    }
    const spread = (values: number[]) => {
      const s = summarize(values);
      return `${s.min} / ${s.p50} / ${s.max}`;
    };
    const added = p99.api.map((value, i) => value - (p99.direct[i] ?? 0));
    rows.push({
      mode,
      starts: total,
      'Flowdesk p50 ms (min/med/max)': spread(p50.api),
      'direct p50 ms': spread(p50.direct),
      'Flowdesk p99 ms': spread(p99.api),
      'direct p99 ms': spread(p99.direct),
      'added at p99 ms (median)': summarize(added).p50,
      'starts/s Flowdesk / direct': `${summarize(rate.api).p50} / ${summarize(rate.direct).p50}`,
      'target ≤ 3 ms': summarize(added).p50 <= 3 ? 'met' : 'not met',
    });
  }
  const markdown = await writeReport({
    name: 'api-start-latency',
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    rows,
    notes: [
      `${REPEATS} repeats; each cell is min / median / max over the repeats of that repeat's p50 or p99.`,
      'Flowdesk: HTTP, API-key check (one indexed lookup), validation, the flows row claimed, then the same start.',
    ],
  });
  process.stdout.write(markdown);
} finally {
  await stack.stop();
}
