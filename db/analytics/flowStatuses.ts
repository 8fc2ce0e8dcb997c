import { sql } from 'kysely';
import { every } from '../../runtime/every.js';
import type { Db } from '../client.js';
import { STATUS_CHANNEL } from './statusLog.js';

/**
 * Flowdesk's own flows as status events of the tenant's `flowdesk` source, so the figures of a flow come from the
 * same engine as a CRM's. Each flow is an order; its statuses are `{flowType}:{name}`:
 *
 * - `started`, and `completed` / `cancelled` / `failed` at the end;
 * - `{step}` when a step starts or its wait begins (again when a person's decision puts it back to work),
 *   `{step}.done` when it ends;
 * - `needs_attention` and `paused` while it waits on a person (`resumed` goes back to the step it was in).
 *
 * A step's statuses are its own group (`{flowType}:{step}`), so each step can have its calendar and SLA; `.done`
 * and `started` statuses are the flow's `between steps` group, the others groups of their own. Statuses and groups
 * enter the dictionary the first time a flow reaches them. The statuses come from the flows' audit events, after
 * the fact ({@link relayFlowStatuses}): a flow's publication pays nothing for them, and an event recorded once is
 * a status recorded once.
 */

export interface FlowEvent {
  type: string;
  payload: Record<string, unknown>;
}

interface FlowStatus {
  statusId: string;
  name: string;
  groupId: string;
  groupName: string;
}

export function flowStatusOf(
  flowType: string,
  event: FlowEvent,
  currentStep: string | null,
): FlowStatus | undefined {
  const step = typeof event.payload.step === 'string' ? event.payload.step : undefined;
  const status = (name: string, group: string, groupName: string): FlowStatus => ({
    statusId: `${flowType}:${name}`,
    name,
    groupId: `${flowType}:${group}`,
    groupName,
  });
  const between = (name: string) => status(name, 'between', 'Between steps');
  switch (event.type) {
    case 'flow.started':
      return between('started');
    case 'flow.step.started':
    case 'flow.waiting':
    case 'flow.attention.resolved':
      return step ? status(step, step, step) : undefined;
    case 'flow.step.completed':
    case 'flow.step.resolved':
      return step ? between(`${step}.done`) : undefined;
    case 'flow.needs_attention':
      return status('needs_attention', 'attention', 'Needs attention');
    case 'flow.paused':
      return status('paused', 'paused', 'Paused');
    case 'flow.resumed':
      return currentStep ? status(currentStep, currentStep, currentStep) : between('resumed');
    case 'flow.completed':
      return status('completed', 'ended', 'Ended');
    case 'flow.cancelled':
      return status('cancelled', 'ended', 'Ended');
    case 'flow.failed':
      return status('failed', 'ended', 'Ended');
    default:
      return undefined;
  }
}

const RELAY = 'flow_statuses';

/**
 * Relays flow events to the status log: the next `limit` events of every tenant's flows, in the order their
 * transactions finished (an event whose transaction is still open, or that an older open one could precede, waits
 * for the next pass), as statuses of each tenant's `flowdesk` source, in one statement, with a notice per new
 * status for the streams (as db/analytics/statusLog.ts announces a CRM's). The cursor moves in the same
 * transaction, so each event is relayed once; one process relays at a time, the others find the cursor taken.
 * Returns how many events it read.
 */
export async function relayFlowStatuses(db: Db, limit = 500): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const cursor = await trx
      .selectFrom('relay_cursors')
      .select(['xact', 'event_id'])
      .where('name', '=', RELAY)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!cursor) return 0;
    const { rows: events } = await sql<{
      id: string;
      xact: string;
      tenant_id: string;
      flow_id: string;
      flow_type: string | null;
      type: string;
      payload: Record<string, unknown>;
      occurred_at: Date;
    }>`
      select e.id, e.xact::text as xact, e.tenant_id, e.entity_id as flow_id, f.flow_type, e.type, e.payload,
        e.occurred_at
      from domain_events e left join flows f on f.id = e.entity_id
      where e.xact is not null and e.entity_type = 'flow'
        and (e.xact, e.id) > (${cursor.xact}::xid8, ${cursor.event_id}::uuid)
        and e.xact < pg_snapshot_xmin(pg_current_snapshot())
      order by e.xact, e.id
      limit ${limit}
    `.execute(trx);
    const last = events.at(-1);
    if (!last) return 0;
    const mapped = events.flatMap((event) => {
      if (!event.flow_type) return [];
      const step = typeof event.payload.currentStep === 'string' ? event.payload.currentStep : null;
      const status = flowStatusOf(event.flow_type, event, step);
      return status ? [{ ...status, event }] : [];
    });
    if (mapped.length > 0) {
      const rows = sql.join(
        mapped.map(
          (m, position) =>
            sql`(${m.event.tenant_id}::uuid, ${m.event.flow_id}, ${m.statusId}, ${m.name}, ${m.groupId}, ${m.groupName}, ${m.event.occurred_at}::timestamptz, ${position}::int)`,
        ),
      );
      await sql`
        with input (tenant_id, flow_id, status_id, name, group_id, group_name, changed_at, position) as (
          values ${rows}
        ),
        src as (
          select s.tenant_id, s.id from status_sources s
          where s.kind = 'flowdesk' and s.tenant_id in (select tenant_id from input)
        ),
        sourced as (select input.*, src.id as source_id from input join src using (tenant_id)),
        groups as (
          insert into status_groups (tenant_id, source_id, group_id, name)
          select distinct on (tenant_id, group_id) tenant_id, source_id, group_id, group_name from sourced
          on conflict do nothing
        ),
        statuses as (
          insert into source_statuses (tenant_id, source_id, status_id, name, group_id)
          select distinct on (tenant_id, status_id) tenant_id, source_id, status_id, name, group_id from sourced
          on conflict do nothing
        ),
        status_rows as (
          insert into status_events (tenant_id, source_id, order_id, status_id, status_changed_at)
          select tenant_id, source_id, flow_id, status_id, changed_at from sourced order by position
          on conflict do nothing
          returning id, tenant_id, source_id, order_id, status_id
        ),
        new_orders as (
          insert into analytics_orders (tenant_id, source_id, order_id, items_state, items)
          select distinct tenant_id, source_id, order_id, 'own', '[]'::jsonb from status_rows
          on conflict do nothing
          returning id, source_id, order_id
        ),
        orders as (
          select id, source_id, order_id from new_orders
          union all
          select o.id, o.source_id, o.order_id from analytics_orders o
          join (select distinct tenant_id, source_id, order_id from status_rows) r using (tenant_id, source_id, order_id)
        )
        select pg_notify(${STATUS_CHANNEL}, json_build_object('kind', 'order_updated', 'id', r.id::text,
          'tenantId', r.tenant_id::text, 'sourceId', r.source_id, 'orderId', o.id, 'externalOrderId', r.order_id,
          'statusId', r.status_id)::text)
        from status_rows r join orders o using (source_id, order_id)
        order by r.id
      `.execute(trx);
    }
    await trx
      .updateTable('relay_cursors')
      .set({ xact: last.xact, event_id: last.id })
      .where('name', '=', RELAY)
      .execute();
    return events.length;
  });
}

/**
 * Relays until nothing is left, then again every `everyMs`, until stopped (the worker runs it; tests that read
 * their flows' statuses run it too).
 */
export function startFlowStatusRelay(db: Db, everyMs: number, onError: (error: unknown) => void) {
  const limit = 500;
  return every(
    everyMs,
    async () => {
      while ((await relayFlowStatuses(db, limit)) === limit);
    },
    onError,
  );
}
