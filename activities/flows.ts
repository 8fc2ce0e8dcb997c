import { sql } from 'kysely';
import type { Db } from '../db/client.js';
import { eventsInsert } from '../db/events.js';
import { followChild, ownView, showsChild } from '../db/flowView.js';
import { type FlowChanges, type FlowPublication, TERMINAL_STATES } from '../domain/flow.js';
import type { KernelActivities } from '../workflows/kernel/activities.js';

/**
 * Writes a flow's changes: its row in `flows` (what users list) and one audit event per change (the status log
 * derives its statuses from them later: db/analytics/flowStatuses.ts), in one statement; a child's changes also
 * write the steps it does for its parent on the parent's row (db/flowView.ts), in the same transaction. It runs at every wait of
 * every flow, so it costs one round trip unless a row has to be read first. Safe to run again: an event's key is
 * the flow's run and the event's name within it, and the row only ever moves to a higher sequence, so a retried
 * or late publication changes nothing.
 */
export function flowActivities({ db }: { db: Db }): KernelActivities {
  async function publish(
    trx: Db,
    { status, runId, sequence, events, runStartedAt, parent }: FlowChanges,
    last: FlowChanges['events'][number],
  ) {
    const view = await ownView(trx, status);
    const terminal = TERMINAL_STATES.includes(view.state);
    const row = {
      id: status.flowId,
      tenant_id: status.tenantId,
      flow_type: status.flowType,
      business_key: status.businessKey,
      run_id: runId,
      state: view.state,
      current_step: view.currentStep,
      progress_done: view.done,
      progress_total: status.progress.total,
      waiting_for: view.waitingFor,
      attention: JSON.stringify(view.attention),
      steps: JSON.stringify(view.steps),
      version: sequence,
      started_at: status.startedAt,
      updated_at: status.updatedAt,
      ended_at: terminal ? status.updatedAt : null,
      run_started_at: runStartedAt ?? null,
      parent_id: status.parentFlowId ?? null,
      root_id: status.rootFlowId ?? null,
    };
    const flowRow = trx
      .insertInto('flows')
      .values(row)
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet((eb) => ({
            run_id: eb.ref('excluded.run_id'),
            state: eb.ref('excluded.state'),
            current_step: eb.ref('excluded.current_step'),
            progress_done: eb.ref('excluded.progress_done'),
            progress_total: eb.ref('excluded.progress_total'),
            waiting_for: eb.ref('excluded.waiting_for'),
            attention: eb.ref('excluded.attention'),
            steps: eb.ref('excluded.steps'),
            version: eb.ref('excluded.version'),
            updated_at: eb.ref('excluded.updated_at'),
            ended_at: eb.ref('excluded.ended_at'),
            run_started_at: sql`coalesce(excluded.run_started_at, flows.run_started_at)`,
          }))
          // Within a run, a higher sequence wins. A later run (continued as new) takes the row over; a run
          // that is not later (a reset's starts at its original's time) waits for the reconciler to adopt it,
          // so an older run's late publication never overwrites a newer run's state.
          .where(
            sql<boolean>`(flows.run_id = excluded.run_id and flows.version < excluded.version)
              or (flows.run_id is distinct from excluded.run_id
                  and (excluded.run_started_at > coalesce(flows.run_started_at, '-infinity')
                       or (excluded.run_started_at is null and flows.version < excluded.version)))`,
          ),
      );
    const auditEvents = eventsInsert(
      trx,
      events.map((event) => ({
        tenantId: status.tenantId,
        type: event.type,
        actor: event.actor,
        entity: { type: 'flow', id: status.flowId },
        flowId: status.flowId,
        payload: {
          ...event.payload,
          // While a child does the parent's steps, the parent is as its child is.
          state: view.followsChild ? view.state : event.state,
          progress: view.followsChild ? { done: view.done, total: status.progress.total } : event.progress,
        },
        occurredAt: event.occurredAt,
        idempotencyKey: `${status.flowId}/${runId}/${event.key}`,
        traceId: status.rootFlowId ?? status.flowId,
      })),
    );
    await sql`with flow_row as (${flowRow}) ${auditEvents}`.execute(trx);
    if (parent) await followChild(trx, status, parent, last.occurredAt);
  }

  async function publishFlowChanges(changes: FlowChanges) {
    const last = changes.events.at(-1);
    if (!last) return;
    // One statement is atomic by itself; reading a row before writing, or writing the parent's, needs a transaction.
    if (changes.parent || showsChild(changes.status))
      await db.transaction().execute((trx) => publish(trx, changes, last));
    else await publish(db, changes, last);
  }

  return {
    publishFlowChanges,
    async publishFlow({
      status,
      runId,
      sequence,
      eventKey,
      event,
      occurredAt,
      runStartedAt,
      parent,
    }: FlowPublication) {
      await publishFlowChanges({
        status,
        runId,
        sequence,
        runStartedAt,
        parent,
        events: [
          {
            ...event,
            key: eventKey ?? String(sequence),
            occurredAt,
            state: status.state,
            progress: { done: status.progress.done, total: status.progress.total },
          },
        ],
      });
    },
  };
}
