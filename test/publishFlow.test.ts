import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { flowActivities } from '../activities/flows.js';
import { createDb, type Db } from '../db/client.js';
import { ensureTenant } from '../db/tenants.js';
import { type FlowPublication, type FlowStatus, SYSTEM } from '../domain/flow.js';

let db: Db;
let tenantId: string;

beforeAll(async () => {
  db = createDb(inject('databaseUrl'), 2);
  tenantId = (await ensureTenant(db, `publish-${Date.now()}`, 'Publishing')).id;
});
afterAll(() => db?.destroy());

function publication(
  flowId: string,
  sequence: number,
  eventKey: string,
  state: FlowStatus['state'],
): FlowPublication {
  const now = new Date().toISOString();
  return {
    runId: 'run-1',
    sequence,
    eventKey,
    occurredAt: now,
    event: { type: 'flow.completed', actor: SYSTEM, payload: {} },
    status: {
      flowId,
      flowType: 'test',
      businessKey: flowId,
      tenantId,
      state,
      currentStep: null,
      steps: [],
      progress: { done: 0, total: 0 },
      waitingFor: null,
      attention: null,
      paused: false,
      activeChildren: [],
      parentFlowId: null,
      rootFlowId: null,
      startedAt: now,
      updatedAt: now,
    },
  };
}

describe('publishing a flow', () => {
  it('writes an event once when a retried workflow task publishes it again under another sequence number', async () => {
    const { publishFlow } = flowActivities({ db });
    const flowId = `publish-${Date.now()}`;
    // The attempt a killed worker left wrote its event at 41; the retry, with a late signal handled first, at 43.
    await publishFlow(publication(flowId, 41, 'flow.completed#1', 'completed'));
    await publishFlow(publication(flowId, 43, 'flow.completed#1', 'completed'));
    const events = await db
      .selectFrom('domain_events')
      .select('type')
      .where('flow_id', '=', flowId)
      .execute();
    expect(events).toEqual([{ type: 'flow.completed' }]);
    const row = await db
      .selectFrom('flows')
      .select(['state', 'version'])
      .where('id', '=', flowId)
      .executeTakeFirst();
    expect(row).toEqual({ state: 'completed', version: '43' });
  });
});
