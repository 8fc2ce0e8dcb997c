import { sql } from 'kysely';
import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import { type FlowPublication, TERMINAL_STATES } from '../domain/flow.js';
import type { KernelActivities } from '../workflows/kernel/activities.js';

/**
 * Writes one change of a flow: its row in `flows` (what users list) and its audit event, in one transaction.
 * Safe to run again: the event's key is the flow's run and the event's name within it (its sequence number
 * from older workers), and the row only ever moves to a higher sequence, so a retried or late publication
 * changes nothing.
 */
export function flowActivities({ db }: { db: Db }): KernelActivities {
  return {
    async publishFlow({
      status,
      runId,
      sequence,
      eventKey,
      event,
      occurredAt,
      runStartedAt,
    }: FlowPublication) {
      const terminal = TERMINAL_STATES.includes(status.state);
      const row = {
        id: status.flowId,
        tenant_id: status.tenantId,
        flow_type: status.flowType,
        business_key: status.businessKey,
        run_id: runId,
        state: status.state,
        current_step: status.currentStep,
        progress_done: status.progress.done,
        progress_total: status.progress.total,
        waiting_for: status.waitingFor,
        attention: JSON.stringify(status.attention),
        version: sequence,
        started_at: status.startedAt,
        updated_at: status.updatedAt,
        ended_at: terminal ? status.updatedAt : null,
        run_started_at: runStartedAt ?? null,
        parent_id: status.parentFlowId ?? null,
        root_id: status.rootFlowId ?? null,
      };
      await db.transaction().execute(async (trx) => {
        await trx
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
          )
          .execute();
        await appendEvent(trx, {
          tenantId: status.tenantId,
          type: event.type,
          actor: event.actor,
          entity: { type: 'flow', id: status.flowId },
          flowId: status.flowId,
          payload: { ...event.payload, state: status.state, progress: status.progress },
          occurredAt,
          idempotencyKey: `${status.flowId}/${runId}/${eventKey ?? sequence}`,
        });
      });
    },
  };
}
