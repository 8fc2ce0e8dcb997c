import { sql } from 'kysely';
import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import type { FlowPublication } from '../domain/flow.js';
import type { KernelActivities } from '../workflows/kernel/activities.js';

/**
 * Writes one change of a flow: its row in `flows` (what users list) and its audit event, in one transaction.
 * Safe to run again: the event's key is the flow's run and the event's name within it (its sequence number
 * from older workers), and the row only ever moves to a higher sequence, so a retried or late publication
 * changes nothing.
 */
export function flowActivities({ db }: { db: Db }): KernelActivities {
  return {
    async publishFlow({ status, runId, sequence, eventKey, event, occurredAt }: FlowPublication) {
      const terminal = ['completed', 'cancelled', 'failed'].includes(status.state);
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
              }))
              .where(sql<boolean>`flows.version < excluded.version`),
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
