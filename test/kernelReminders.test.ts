import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowActivities } from '../activities/flows.js';
import { MAX_REMINDERS_PER_WAIT } from '../workflows/kernel/flow.js';
import { createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

let api: TestApi;
let worker: TestWorker;
let tenant: TestTenant;

beforeAll(async () => {
  api = await startTestApi();
  worker = await startTestWorker({
    workflows: { workflowsPath: fileURLToPath(new URL('./fixtures/reminders.ts', import.meta.url)) },
    activities: flowActivities({ db: api.deps.db }),
  });
  tenant = await createTestTenant(api.deps.db);
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
});

describe('a wait', () => {
  // The cap is MAX_REMINDERS_PER_WAIT; a flow may set a lower one, which keeps this test short (a timer takes
  // about a second on the dev server, whatever its duration).
  it('reminds at most its cap, however short its interval', async () => {
    const flowId = `reminds:${randomUUID()}`;
    const handle = await worker.client.workflow.start('remindsOften', {
      taskQueue: worker.taskQueue,
      workflowId: flowId,
      args: [{ tenantId: tenant.tenantId, businessKey: flowId, maxReminders: 4 }],
    });
    const sent = async () =>
      (
        await api.deps.db
          .selectFrom('domain_events')
          .select('id')
          .where('flow_id', '=', flowId)
          .where('type', '=', 'flow.reminder.sent')
          .execute()
      ).length;
    let seen = -1;
    while ((await sent()) !== seen || seen === 0) {
      seen = await sent();
      await sleep(3_000);
    }
    expect(seen).toBe(4);
    expect(MAX_REMINDERS_PER_WAIT).toBe(50);
    await handle.terminate();
  });
});
