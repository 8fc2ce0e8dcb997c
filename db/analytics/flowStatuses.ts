import { sql } from 'kysely';
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
 * enter the dictionary the first time a flow reaches them. An event's time is the flow's, so a retried
 * publication records nothing twice.
 */

export interface PublishedFlowEvent {
  type: string;
  payload: Record<string, unknown>;
  occurredAt: string;
}

interface FlowStatus {
  statusId: string;
  name: string;
  groupId: string;
  groupName: string;
}

export function flowStatusOf(
  flowType: string,
  event: PublishedFlowEvent,
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

/**
 * Records a publication's events as the flow's statuses; call it in the publication's transaction. One statement
 * (it runs on every publication of every flow): the dictionary entries, the events, the order, and a notice per
 * new event for the streams (as db/analytics/statusLog.ts announces a CRM's).
 */
export async function recordFlowStatuses(
  db: Db,
  input: {
    tenantId: string;
    flowType: string;
    flowId: string;
    currentStep: string | null;
    events: readonly PublishedFlowEvent[];
  },
): Promise<void> {
  const mapped = input.events.flatMap((event) => {
    const status = flowStatusOf(input.flowType, event, input.currentStep);
    return status ? [{ ...status, at: event.occurredAt }] : [];
  });
  if (mapped.length === 0) return;
  const rows = sql.join(
    mapped.map(
      (m, position) =>
        sql`(${m.statusId}, ${m.name}, ${m.groupId}, ${m.groupName}, ${m.at}::timestamptz, ${position}::int)`,
    ),
  );
  const { tenantId, flowId } = input;
  await sql`
    with src as (select id from status_sources where tenant_id = ${tenantId} and kind = 'flowdesk'),
    input (status_id, name, group_id, group_name, changed_at, position) as (values ${rows}),
    groups as (
      insert into status_groups (tenant_id, source_id, group_id, name)
      select distinct on (group_id) ${tenantId}::uuid, src.id, group_id, group_name from input, src
      on conflict do nothing
    ),
    statuses as (
      insert into source_statuses (tenant_id, source_id, status_id, name, group_id)
      select distinct on (status_id) ${tenantId}::uuid, src.id, status_id, name, group_id from input, src
      on conflict do nothing
    ),
    events as (
      insert into status_events (tenant_id, source_id, order_id, status_id, status_changed_at)
      select ${tenantId}::uuid, src.id, ${flowId}, status_id, changed_at from input, src order by position
      on conflict do nothing
      returning id, status_id
    ),
    new_order as (
      insert into analytics_orders (tenant_id, source_id, order_id, items_state, items)
      select ${tenantId}::uuid, src.id, ${flowId}, 'own', '[]'::jsonb from src where exists (select 1 from events)
      on conflict do nothing
      returning id
    ),
    -- The flow's order row is written once, not on each publication: most find it there.
    orders as (
      select id from new_order
      union all
      select o.id from analytics_orders o, src
      where o.tenant_id = ${tenantId} and o.source_id = src.id and o.order_id = ${flowId}
    )
    select pg_notify(${STATUS_CHANNEL}, json_build_object('kind', 'order_updated', 'id', events.id::text,
      'tenantId', ${tenantId}::text, 'sourceId', src.id, 'orderId', orders.id, 'externalOrderId', ${flowId}::text,
      'statusId', events.status_id)::text)
    from events, src, orders
    order by events.id
  `.execute(db);
}
