import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowActivities } from '../activities/flows.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { waitForFlowRow } from './helpers/flows.js';
import { recordHistories } from './helpers/histories.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

let api: TestApi;
let worker: TestWorker;
let tenant: TestTenant;
let coordinator: ReturnType<typeof apiClient>;
/** Parts whose supplier refuses orders until the test lets them through. */
const refusing = new Set<string>();

beforeAll(async () => {
  const taskQueue = `child-sets-${randomUUID()}`;
  api = await startTestApi({ env: { TEMPORAL_TASK_QUEUE: taskQueue, DECISION_WAIT_SECONDS: '5' } });
  worker = await startTestWorker({
    taskQueue,
    workflows: { workflowsPath: fileURLToPath(new URL('./fixtures/childSet.ts', import.meta.url)) },
    activities: {
      ...flowActivities({ db: api.deps.db }),
      async placePart(part: string) {
        if (refusing.has(part)) throw new Error(`the supplier of ${part} refuses orders today`);
      },
    },
  });
  tenant = await createTestTenant(api.deps.db);
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
});

const path = (flowId: string, action = '') => `/v1/flows/${encodeURIComponent(flowId)}${action}`;
const row = (flowId: string) =>
  api.deps.db.selectFrom('flows').selectAll().where('id', '=', flowId).executeTakeFirstOrThrow();

describe('a step that runs child flows at once', () => {
  it('shows each child as it is, reaches all of them, and completes when all have', async () => {
    const plan = `PLAN-${randomUUID().slice(0, 8)}`;
    const parentId = `plan:${plan}`;
    const panels = `part:${plan}:panels`;
    const inverter = `part:${plan}:inverter`;
    const rails = `part:${plan}:rails`;
    refusing.add('inverter');
    const handle = await worker.client.workflow.start('deliveryPlan', {
      taskQueue: worker.taskQueue,
      workflowId: parentId,
      args: [{ tenantId: tenant.tenantId, plan, parts: ['panels', 'inverter', 'rails'] }],
    });
    const childrenShown = async () =>
      Object.fromEntries(
        (
          (await coordinator.get(path(parentId))).body.steps[0].children as Array<{
            flowId: string;
            state: string;
          }>
        ).map((child) => [child.flowId, child.state]),
      );

    // The inverter's supplier refuses: that child needs a person; its siblings wait for their deliveries.
    await waitForFlowRow(api.deps.db, inverter, (r) => r?.state === 'needs_attention');
    await expect
      .poll(childrenShown)
      .toEqual({ [panels]: 'waiting', [inverter]: 'needs_attention', [rails]: 'waiting' });
    expect(await row(parentId)).toMatchObject({ state: 'running', current_step: 'orderParts' });
    const attention = await coordinator.get(`/v1/flows?state=needs_attention&q=${encodeURIComponent(plan)}`);
    expect(attention.body.flows.map((f: { flowId: string }) => f.flowId)).toEqual([inverter]);
    expect(attention.body.flows[0]).toMatchObject({ parentFlowId: parentId, rootFlowId: parentId });

    // One completes.
    await worker.client.workflow.getHandle(panels).signal('delivered');
    await waitForFlowRow(api.deps.db, panels, (r) => r?.state === 'completed');
    await expect.poll(childrenShown).toMatchObject({ [panels]: 'completed' });

    // The failing one is retried on itself, once its supplier takes orders again.
    refusing.delete('inverter');
    const retried = await coordinator.post(path(inverter, '/resolve'), { action: 'retry' });
    expect(retried.status, retried.text).toBe(200);
    await waitForFlowRow(api.deps.db, inverter, (r) => r?.state === 'waiting');

    // One is paused on its own; then the parent's pause reaches every child still working.
    expect((await coordinator.post(path(rails, '/pause'), { reason: 'site not ready' })).body.state).toBe(
      'paused',
    );
    await expect.poll(childrenShown).toMatchObject({ [rails]: 'paused', [inverter]: 'waiting' });
    expect((await coordinator.post(path(parentId, '/pause'))).body.activeChildren.sort()).toEqual(
      [inverter, rails].sort(),
    );
    await waitForFlowRow(api.deps.db, inverter, (r) => r?.state === 'paused');
    expect((await coordinator.post(path(parentId, '/resume'))).status).toBe(200);
    await waitForFlowRow(api.deps.db, inverter, (r) => r?.state === 'waiting');
    await waitForFlowRow(api.deps.db, rails, (r) => r?.state === 'waiting');

    await worker.client.workflow.getHandle(inverter).signal('delivered');
    await worker.client.workflow.getHandle(rails).signal('delivered');
    expect(await handle.result()).toEqual(['panels', 'inverter', 'rails']);
    const done = await row(parentId);
    expect(done).toMatchObject({ state: 'completed', progress_done: 2, progress_total: 2 });
    const completions = await api.deps.db
      .selectFrom('domain_events')
      .select(['payload'])
      .where('flow_id', '=', parentId)
      .where('type', '=', 'flow.child.completed')
      .execute();
    expect(completions.map((e) => e.payload.child).sort()).toEqual([inverter, panels, rails].sort());
    expect(completions.map((e) => e.payload.done).sort()).toEqual([1, 2, 3]);
    recordHistories({ 'fixtures/deliveryPlan': parentId });
  });
});
