import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { contractFlowId, contractSigned } from '../domain/contract.js';
import { proposalFlowId } from '../domain/proposalToPayment.js';
import { baselineChild, isWaiting, proceed } from './baseline/workflows.js';
import { BASELINE_TASK_QUEUE, startBenchStack } from './lib/stack.js';
import { measure, writeReport } from './lib/stats.js';

/**
 * Open flows: N proposal-to-payment flows started through the API and left waiting for the signature, against
 * N bare workflows of the same shape (three activities, then a wait for a signal). Reported: the time until all
 * wait, the Flowdesk worker's resident memory while they do, history events per flow, and the time until all
 * have moved on once signalled.
 */
const FLOWS = Number(process.env.BENCH_OPEN_FLOWS ?? 5_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 32);

const stack = await startBenchStack();
// Every waiting workflow (a parent and its contract child per flow) stays in the worker's cache: what is measured
// is the memory of cached waiting workflows, not of a cache that evicts.
const CACHED = 2 * FLOWS;
const worker = await stack.startWorker({ WORKER_MAX_CACHED_WORKFLOWS: String(CACHED + 100) });
await stack.startWorker({ TEMPORAL_TASK_QUEUE: BASELINE_TASK_QUEUE }, 'baseline-worker');
const run = randomBytes(3).toString('hex');
const proposalId = (i: number) => `O-${run}-${i}`;

async function residentMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function until(what: string, done: () => Promise<boolean>) {
  const started = performance.now();
  while (!(await done())) {
    if (performance.now() - started > 3_600_000) throw new Error(`${what}: not after an hour`);
    await sleep(250);
  }
}

const contractsIn = (state: string, waitingFor?: string) =>
  stack.db
    .selectFrom('flows')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('flow_type', '=', 'contractSigning')
    .where('state', '=', state)
    .$if(waitingFor !== undefined, (q) => q.where('waiting_for', '=', waitingFor ?? ''))
    .executeTakeFirstOrThrow()
    .then((row) => Number(row.n));

try {
  const memoryBefore = await residentMb(worker.pid);
  // Flowdesk: started through the API, waiting once each contract child waits for its signature.
  const t0 = performance.now();
  const starting = await measure(FLOWS, IN_FLIGHT, async (i) => {
    const res = await fetch(`${stack.apiUrl}/v1/flows/proposal-to-payment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        proposal: {
          proposalId: proposalId(i),
          title: 'Heat pump',
          currency: 'EUR',
          customer: { name: 'Open Flow', email: `open-${i}@example.com` },
          lines: [{ description: 'Heat pump', quantity: 1, unitPrice: 900_000 }],
        },
      }),
    });
    if (res.status !== 201) throw new Error(`start answered ${res.status}`);
  });
  await until('all waiting', async () => (await contractsIn('waiting', 'awaitSignature')) >= FLOWS);
  const flowdeskWaiting = (performance.now() - t0) / 1000;
  const memoryWaiting = await residentMb(worker.pid);
  const parent = await stack.client.workflow
    .getHandle(proposalFlowId(stack.tenant.slug, proposalId(0)))
    .describe();
  const child = await stack.client.workflow
    .getHandle(contractFlowId(stack.tenant.slug, proposalId(0)))
    .describe();

  const envelopes = await stack.db.selectFrom('signature_envelopes').select(['id', 'flow_id']).execute();
  const t1 = performance.now();
  await measure(envelopes.length, IN_FLIGHT, (i) => {
    const envelope = envelopes[i];
    if (!envelope) return Promise.resolve();
    return stack.client.workflow.getHandle(envelope.flow_id).signal(contractSigned, {
      envelopeId: envelope.id,
      signerName: 'Open Flow',
      occurredAt: new Date().toISOString(),
    });
  });
  await until('all resumed', async () => (await contractsIn('completed')) >= FLOWS);
  const flowdeskResumed = (performance.now() - t1) / 1000;
  const memoryAfter = await residentMb(worker.pid);

  // Baseline: the same number of bare workflows, waiting after their three activities.
  const t2 = performance.now();
  const handles = Array.from({ length: FLOWS }, (_, i) => `open-baseline-${run}-${i}`);
  await measure(FLOWS, IN_FLIGHT, (i) =>
    stack.client.workflow.start(baselineChild, {
      taskQueue: BASELINE_TASK_QUEUE,
      workflowId: handles[i] ?? '',
      args: [3],
    }),
  );
  const baselineStarted = (performance.now() - t2) / 1000;
  await measure(FLOWS, IN_FLIGHT, async (i) => {
    const handle = stack.client.workflow.getHandle(handles[i] ?? '');
    // A query to a workflow out of the worker's cache replays it first; under load that can time out.
    while (!(await handle.query(isWaiting).catch(() => false))) await sleep(100);
  });
  const baselineWaiting = (performance.now() - t2) / 1000;
  const t3 = performance.now();
  await measure(FLOWS, IN_FLIGHT, (i) => stack.client.workflow.getHandle(handles[i] ?? '').signal(proceed));
  await measure(FLOWS, IN_FLIGHT, (i) => stack.client.workflow.getHandle(handles[i] ?? '').result());
  const baselineResumed = (performance.now() - t3) / 1000;
  const bare = await stack.client.workflow.getHandle(handles[0] ?? '').describe();

  const markdown = await writeReport({
    name: 'open-flows',
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    rows: [
      {
        what: `${FLOWS} flows`,
        'started (s)': `${starting.seconds.toFixed(1)} (API calls)`,
        'all waiting (s)': flowdeskWaiting.toFixed(1),
        'all resumed (s)': flowdeskResumed.toFixed(1),
        'history events per flow': `${parent.historyLength} parent + ${child.historyLength} contract child (completed)`,
        'worker RSS MB before / waiting / after': `${memoryBefore} / ${memoryWaiting} / ${memoryAfter}`,
      },
      {
        what: `${FLOWS} bare workflows`,
        'started (s)': baselineStarted.toFixed(1),
        'all waiting (s)': baselineWaiting.toFixed(1),
        'all resumed (s)': baselineResumed.toFixed(1),
        'history events per flow': `${bare.historyLength} (completed)`,
        'worker RSS MB before / waiting / after': '—',
      },
    ],
    notes: [
      `At most ${IN_FLIGHT} requests in flight. Flowdesk "waiting" is every contract child waiting for its signature (contract rendered, envelope opened, link emailed over SMTP); "resumed" is every contract child completed after its signal.`,
      'The bare workflows run three activities that do nothing, then wait; "resumed" is all of them completed after their signal.',
      `Worker memory per cached waiting workflow (${CACHED} cached, the cache set to hold them all): (waiting − before) / ${CACHED} = ${((memoryWaiting - memoryBefore) / CACHED).toFixed(2)} MB; target ≤ 0.6 MB.`,
    ],
  });
  process.stdout.write(markdown);
} finally {
  await stack.stop();
}
