import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { flowActivities } from '../activities/flows.js';
import { relayFlowStatuses } from '../db/analytics/flowStatuses.js';
import { createDb, type Db } from '../db/client.js';
import { eventsInsert } from '../db/events.js';
import { ensureTenant } from '../db/tenants.js';
import { type FlowChange, type FlowPublication, type FlowStatus, SYSTEM } from '../domain/flow.js';
import { flowStatusOf } from './helpers/flows.js';

let db: Db;
let tenantId: string;

beforeAll(async () => {
  db = createDb(inject('databaseUrl'), 4);
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
    status: flowStatusOf(flowId, tenantId, { state }),
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

describe('relaying flow events to the status log', () => {
  /** The statuses the log holds for a flow, in time order. */
  const statusesOf = async (flowId: string) =>
    (
      await db
        .selectFrom('status_events')
        .select('status_id')
        .where('tenant_id', '=', tenantId)
        .where('order_id', '=', flowId)
        .orderBy('status_changed_at')
        .orderBy('id')
        .execute()
    ).map((row) => row.status_id);
  const relayUntil = async (done: () => Promise<boolean>) => {
    // Other test files' relays may take the cursor first; whoever relays, the log fills.
    for (let pass = 0; pass < 100 && !(await done()); pass++) {
      await relayFlowStatuses(db);
      await sleep(50);
    }
  };
  const change = (type: string, payload: Record<string, unknown>, at: string) => ({
    type,
    actor: SYSTEM,
    payload,
    key: `${type}#${at}`,
    occurredAt: at,
    state: 'running' as const,
    progress: { done: 0, total: 1 },
  });

  it('records each event once, and never passes over one whose transaction commits after a later one', async () => {
    const { publishFlowChanges, publishFlow } = flowActivities({ db });
    const started = `relay-a-${Date.now()}`;
    const other = `relay-b-${Date.now()}`;
    const at = (seconds: number) => new Date(Date.UTC(2026, 0, 5, 9, 0, seconds)).toISOString();
    await publishFlowChanges({
      status: publication(started, 1, 'k', 'running').status,
      runId: 'run-1',
      sequence: 1,
      events: [change('flow.started', {}, at(0))],
    });
    await relayUntil(async () => (await statusesOf(started)).length === 1);
    expect(await statusesOf(started)).toEqual(['test:started']);

    // A publication whose transaction is still open when a later one commits and is relayed.
    let commit = () => {};
    const gate = new Promise<void>((resolve) => {
      commit = resolve;
    });
    const slow = db.transaction().execute(async (trx) => {
      await eventsInsert(trx, [
        {
          tenantId,
          type: 'flow.step.started',
          actor: SYSTEM,
          entity: { type: 'flow', id: started },
          flowId: started,
          payload: { step: 'measure' },
          occurredAt: at(1),
          idempotencyKey: `${started}/run-1/step#1`,
        },
      ]).execute();
      await gate;
    });
    await sleep(100);
    await publishFlow(publication(other, 1, 'flow.completed#1', 'completed'));
    for (let pass = 0; pass < 5; pass++) await relayFlowStatuses(db);
    expect(await statusesOf(other)).toEqual([]);

    commit();
    await slow;
    await relayUntil(
      async () => (await statusesOf(other)).length === 1 && (await statusesOf(started)).length === 2,
    );
    expect(await statusesOf(started)).toEqual(['test:started', 'test:measure']);
    expect(await statusesOf(other)).toEqual(['test:completed']);

    // A pause and a resume: back to the step it was in, once, however many relays run.
    await publishFlowChanges({
      status: publication(started, 2, 'k', 'running').status,
      runId: 'run-1',
      sequence: 2,
      events: [
        change('flow.paused', { reason: 'customer away' }, at(2)),
        change('flow.resumed', { reason: 'back', currentStep: 'measure' }, at(3)),
      ],
    });
    await relayUntil(async () => (await statusesOf(started)).length === 4);
    await Promise.all([relayFlowStatuses(db), relayFlowStatuses(db)]);
    expect(await statusesOf(started)).toEqual([
      'test:started',
      'test:measure',
      'test:paused',
      'test:measure',
    ]);
  });
});
