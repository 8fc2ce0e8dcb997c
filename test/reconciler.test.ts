import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { type ContractSigningInput, contractFlowId } from '../domain/contract.js';
import { createLogger } from '../runtime/logger.js';
import { createReconciler } from '../worker/reconciler.js';
import { contractSigning } from '../workflows/contractSigning.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { waitForFlowRow } from './helpers/flows.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

let api: TestApi;
let smtp: SmtpSink;
let worker: TestWorker;
let tenant: TestTenant;
let coordinatorKey: string;
let activities: ReturnType<typeof createActivities>;
const logger = createLogger({ logLevel: 'warn' }, 'reconciler-test');

beforeAll(async () => {
  smtp = await startSmtpSink();
  api = await startTestApi({ env: { DECISION_WAIT_SECONDS: '2' } });
  const config = testConfig({ SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  activities = createActivities({ config, db: api.deps.db, logger });
  worker = await startTestWorker({ activities });
  tenant = await createTestTenant(api.deps.db);
  coordinatorKey = await tenant.key(['coordinator']);
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await smtp?.stop();
});

const reconcilerFor = (taskQueue: string) =>
  createReconciler({ db: api.deps.db, client: worker.client, taskQueue, logger, quietForMs: 0 });

async function startContract() {
  const contractId = `C-${randomUUID().slice(0, 8)}`;
  const input = {
    tenantId: tenant.tenantId,
    tenantSlug: tenant.slug,
    contractId,
    proposal: {
      proposalId: `P-${contractId}`,
      title: 'Heat pump',
      currency: 'EUR',
      customer: { name: 'Grace Hopper', email: `grace+${contractId.toLowerCase()}@example.com` },
      lines: [{ description: 'Heat pump', quantity: 1, unitPrice: 900_000 }],
    },
    signing: { deadline: '1 hour', remindEvery: '1 hour' },
    retry: { maximumAttempts: 2, initialInterval: '100 milliseconds', maximumInterval: '200 milliseconds' },
  } as ContractSigningInput;
  const flowId = contractFlowId(tenant.slug, contractId);
  const handle = await worker.client.workflow.start(contractSigning, {
    taskQueue: worker.taskQueue,
    workflowId: flowId,
    args: [input],
  });
  await waitForFlowRow(api.deps.db, flowId, (row) => row?.state === 'waiting');
  return { flowId, handle };
}

const eventsOf = (flowId: string, type: string) =>
  api.deps.db
    .selectFrom('domain_events')
    .select(['type', 'payload'])
    .where('flow_id', '=', flowId)
    .where('type', '=', type)
    .orderBy('position')
    .execute();

describe('the reconciler', () => {
  it('shows a flow terminated in Temporal as terminated, once, with what it left open; cancel then answers 409', async () => {
    const { flowId, handle } = await startContract();
    await handle.terminate('ops cleaned up by hand');
    const staff = apiClient(api.url, coordinatorKey);
    const cancelPath = `/v1/flows/${encodeURIComponent(flowId)}/cancel`;
    // Before the reconciler has been by: Temporal says there is nothing to cancel, and nothing is recorded.
    const early = await staff.post(cancelPath);
    expect(early.status).toBe(409);
    expect(early.body.detail).toContain('terminated in Temporal');
    expect(await eventsOf(flowId, 'flow.cancel.requested')).toEqual([]);

    const reconciler = reconcilerFor(worker.taskQueue);

    const pass = await reconciler.reconcileOnce();
    expect(pass.closed).toContain(flowId);
    const row = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'terminated');
    expect(row.ended_at).not.toBeNull();
    const [event, ...more] = await eventsOf(flowId, 'flow.terminated');
    expect(more).toEqual([]);
    expect(event?.payload).toMatchObject({ temporalStatus: 'TERMINATED', reason: 'ops cleaned up by hand' });
    const message = String(event?.payload.message);
    expect(message).toContain('nothing was compensated');
    expect(message).toMatch(/signature envelope \S+ for contract C-\S+ v1, signable until/);

    await reconciler.reconcileOnce();
    expect(await eventsOf(flowId, 'flow.terminated')).toHaveLength(1);
    const cancel = await apiClient(api.url, coordinatorKey).post(
      `/v1/flows/${encodeURIComponent(flowId)}/cancel`,
    );
    expect(cancel.status).toBe(409);
    expect(cancel.body.detail).toContain('terminated');
  });

  it('adopts the run a reset started, even when the row had ended, and follows its publications from there', async () => {
    const { flowId, handle } = await startContract();
    await handle.cancel();
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'cancelled');
    const before = await handle.describe();

    // Ops reset the flow to where it waited for the signature, before the cancellation.
    const history = await handle.fetchHistory();
    const cancelRequested = history.events?.findIndex(
      (e) => e.workflowExecutionCancelRequestedEventAttributes,
    );
    const resetPoint = history.events
      ?.slice(0, cancelRequested)
      .filter((e) => e.workflowTaskCompletedEventAttributes)
      .at(-1)?.eventId;
    const { runId } = await worker.client.workflowService.resetWorkflowExecution({
      namespace: worker.client.options.namespace,
      workflowExecution: { workflowId: flowId, runId: before.runId },
      reason: 'cancelled by mistake',
      workflowTaskFinishEventId: resetPoint,
      requestId: randomUUID(),
    });

    const reconciler = reconcilerFor(worker.taskQueue);
    await expect
      .poll(async () => (await reconciler.reconcileOnce()).adopted, { timeout: 15_000, interval: 300 })
      .toContain(flowId);
    const adopted = await waitForFlowRow(api.deps.db, flowId, (r) => r?.run_id === runId);
    expect(adopted).toMatchObject({ state: 'waiting', current_step: 'awaitSignature', ended_at: null });
    expect((await eventsOf(flowId, 'flow.reset'))[0]?.payload).toMatchObject({
      previousRunId: before.runId,
      runId,
      previousState: 'cancelled',
      state: 'waiting',
    });

    // The new run's own publications continue from the reset point, with lower sequences than the old run's.
    await worker.client.workflow.getHandle(flowId).cancel();
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'cancelled' && r.run_id === runId);
  });

  it('shows a flow whose code fails its workflow task as stuck, not failed, until a fixed build runs it on', async () => {
    const fixture = (name: string) => ({
      workflowsPath: fileURLToPath(new URL(`./fixtures/${name}.ts`, import.meta.url)),
    });
    const kernelOnly = { publishFlowChanges: activities.publishFlowChanges };
    const buggy = await startTestWorker({ activities: kernelOnly, workflows: fixture('flowWithBug') });
    const flowId = `bug:${randomUUID()}`;
    try {
      await buggy.client.workflow.start('flowWithBug', {
        taskQueue: buggy.taskQueue,
        workflowId: flowId,
        args: [{ tenantId: tenant.tenantId, businessKey: flowId }],
      });
      // The task that fails never completes: what it did after the flow last published is not shown yet.
      await waitForFlowRow(api.deps.db, flowId, (r) => r?.current_step === 'first');
      const reconciler = reconcilerFor(buggy.taskQueue);
      await expect
        .poll(async () => (await reconciler.reconcileOnce()).stuck, { timeout: 30_000, interval: 500 })
        .toContain(flowId);
      const stuck = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'stuck');
      expect(stuck.attention).toMatchObject({
        reason: 'workflow_task_failing',
        error: expect.stringContaining("Cannot read properties of undefined (reading 'amount')"),
      });
      expect(await eventsOf(flowId, 'flow.failed')).toEqual([]);
      expect(await eventsOf(flowId, 'flow.stuck')).toHaveLength(1);
    } finally {
      await buggy.stop();
    }

    // The fix is deployed on the same task queue: Temporal runs the failed task again, and the flow moves on.
    const fixed = await startTestWorker({
      activities: kernelOnly,
      workflows: fixture('flowWithBugFixed'),
      taskQueue: buggy.taskQueue,
    });
    try {
      expect(await fixed.client.workflow.getHandle(flowId).result()).toBe('fixed');
      await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'completed');
      const completed = await eventsOf(flowId, 'flow.step.completed');
      expect(completed.map((event) => event.payload.step)).toEqual(['first', 'second']);
    } finally {
      await fixed.stop();
    }
  });

  it('shows a step whose activity was paused in Temporal, once, until it is unpaused and the flow goes on', async () => {
    let courierUp = false;
    const pausable = await startTestWorker({
      activities: {
        publishFlowChanges: activities.publishFlowChanges,
        async deliverParcel() {
          if (!courierUp) throw new Error('the courier API is down');
        },
      },
      workflows: { workflowsPath: fileURLToPath(new URL('./fixtures/pausableStep.ts', import.meta.url)) },
    });
    const flowId = `pausable:${randomUUID()}`;
    try {
      const handle = await pausable.client.workflow.start('pausableStep', {
        taskQueue: pausable.taskQueue,
        workflowId: flowId,
        args: [{ tenantId: tenant.tenantId, businessKey: flowId }],
      });
      const pending = async () => (await handle.describe()).raw.pendingActivities?.[0];
      await expect.poll(async () => (await pending())?.attempt ?? 0, { timeout: 10_000 }).toBeGreaterThan(1);
      const activityId = (await pending())?.activityId ?? '';
      await pausable.client.workflowService.pauseActivity({
        namespace: pausable.client.options.namespace,
        execution: { workflowId: flowId },
        id: activityId,
        identity: 'ops-anna',
        reason: 'courier incident',
      });
      await expect.poll(async () => (await pending())?.paused, { timeout: 10_000 }).toBe(true);

      const reconciler = reconcilerFor(pausable.taskQueue);
      expect((await reconciler.reconcileOnce()).activityPaused).toContain(flowId);
      expect((await reconciler.reconcileOnce()).activityPaused).not.toContain(flowId);
      const row = await waitForFlowRow(api.deps.db, flowId, (r) => r?.attention !== null);
      expect(row.attention).toMatchObject({
        step: 'deliver',
        reason: 'activity_paused',
        error: expect.stringContaining('paused in Temporal by ops-anna: courier incident'),
      });
      expect(await eventsOf(flowId, 'flow.activity.paused')).toHaveLength(1);

      courierUp = true;
      await pausable.client.workflowService.unpauseActivity({
        namespace: pausable.client.options.namespace,
        execution: { workflowId: flowId },
        id: activityId,
        identity: 'ops-anna',
      });
      await handle.result();
      await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'completed' && r.attention === null);
    } finally {
      await pausable.stop();
    }
  });
});
