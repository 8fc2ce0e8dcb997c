import type { Db } from '../client.js';
import { recordStatusEvents, type StatusEvent } from './statusLog.js';

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

/** Records a publication's events as the flow's statuses; call it in the publication's transaction. */
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
    return status ? [{ status, at: event.occurredAt }] : [];
  });
  if (mapped.length === 0) return;
  const source = await db
    .selectFrom('status_sources')
    .select('id')
    .where('tenant_id', '=', input.tenantId)
    .where('kind', '=', 'flowdesk')
    .executeTakeFirst();
  if (!source) return;
  const scope = { tenant_id: input.tenantId, source_id: source.id };
  const distinct = <T>(items: T[], key: (item: T) => string) => [
    ...new Map(items.map((i) => [key(i), i])).values(),
  ];
  const statuses = distinct(
    mapped.map((m) => m.status),
    (s) => s.statusId,
  );
  await db
    .insertInto('status_groups')
    .values(
      distinct(statuses, (s) => s.groupId).map((s) => ({ ...scope, group_id: s.groupId, name: s.groupName })),
    )
    .onConflict((oc) => oc.doNothing())
    .execute();
  await db
    .insertInto('source_statuses')
    .values(statuses.map((s) => ({ ...scope, status_id: s.statusId, name: s.name, group_id: s.groupId })))
    .onConflict((oc) => oc.doNothing())
    .execute();
  const events: StatusEvent[] = mapped.map((m) => ({
    orderId: input.flowId,
    statusId: m.status.statusId,
    changedAt: new Date(m.at),
  }));
  await recordStatusEvents(db, { tenantId: input.tenantId, sourceId: source.id, events, itemsKnown: true });
}
