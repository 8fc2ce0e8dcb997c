import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { flowActivities } from '../activities/flows.js';
import { createDb, type Db } from '../db/client.js';
import { ensureTenant } from '../db/tenants.js';
import { type FlowChange, type FlowPublication, type FlowStatus, SYSTEM } from '../domain/flow.js';

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

  it('writes a workflow task’s changes together: one event each, in order, each with the state it left', async () => {
    const { publishFlowChanges } = flowActivities({ db });
    const flowId = `changes-${Date.now()}`;
    const { status } = publication(flowId, 2, '', 'running');
    const change = (key: string, type: string, state: FlowChange['state'], done: number): FlowChange => ({
      key,
      type,
      actor: SYSTEM,
      payload: { step: 'issueInvoice' },
      occurredAt: new Date().toISOString(),
      state,
      progress: { done, total: 2 },
    });
    const changes = {
      status: {
        ...status,
        steps: [
          { name: 'issueInvoice', state: 'completed' as const, attempts: 1 },
          { name: 'awaitPayment', state: 'waiting' as const, attempts: 0 },
        ],
        progress: { done: 1, total: 2 },
      },
      runId: 'run-1',
      sequence: 2,
      runStartedAt: status.startedAt,
      events: [
        change('flow.step.completed/issueInvoice#1', 'flow.step.completed', 'running', 1),
        change('flow.waiting/awaitPayment#1', 'flow.waiting', 'waiting', 1),
      ],
    };
    await publishFlowChanges(changes);
    // The same task run again (a worker died before Temporal heard of it) changes nothing.
    await publishFlowChanges(changes);
    const events = await db
      .selectFrom('domain_events')
      .select(['type', 'payload'])
      .where('flow_id', '=', flowId)
      .orderBy('occurred_at')
      .orderBy('position')
      .execute();
    expect(events.map((event) => [event.type, event.payload.state])).toEqual([
      ['flow.step.completed', 'running'],
      ['flow.waiting', 'waiting'],
    ]);
    const row = await db
      .selectFrom('flows')
      .select(['progress_done', 'version'])
      .where('id', '=', flowId)
      .executeTakeFirst();
    expect(row).toEqual({ progress_done: 1, version: '2' });
  });
});
