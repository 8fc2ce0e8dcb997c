import type { Db } from '../db/client.js';
import { type FlowState, type FlowStatus, TERMINAL_STATES } from '../domain/flow.js';

/**
 * A flow as users see it, from PostgreSQL alone (no worker needs to answer): its row, which its own publications
 * and its children's write, and its children's rows for the steps that run several at once.
 */
export async function readFlow(db: Db, tenantId: string, flowId: string): Promise<FlowStatus | undefined> {
  const row = await db
    .selectFrom('flows')
    .selectAll()
    .where('id', '=', flowId)
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  if (!row) return undefined;
  const children = await db
    .selectFrom('flows')
    .select(['id', 'state', 'attention'])
    .where('tenant_id', '=', tenantId)
    .where('parent_id', '=', flowId)
    .execute();
  const childById = new Map(children.map((child) => [child.id, child]));
  const steps = (row.steps ?? []).map((step) =>
    step.children
      ? {
          ...step,
          children: step.children.map((entry) => {
            const child = childById.get(entry.flowId);
            const attention = child?.attention as { reason: string; error: string } | null | undefined;
            return child
              ? {
                  flowId: entry.flowId,
                  state: child.state as FlowState,
                  attention: attention ? { reason: attention.reason, error: attention.error } : null,
                }
              : entry;
          }),
        }
      : step,
  );
  return {
    flowId: row.id,
    flowType: row.flow_type,
    businessKey: row.business_key,
    tenantId: row.tenant_id,
    state: row.state as FlowState,
    currentStep: row.current_step,
    steps,
    progress: { done: row.progress_done, total: row.progress_total },
    waitingFor: row.waiting_for,
    attention: row.attention as unknown as FlowStatus['attention'],
    paused: row.state === 'paused',
    activeChildren: children
      .filter((child) => !TERMINAL_STATES.includes(child.state as FlowState))
      .map((child) => child.id),
    parentFlowId: row.parent_id,
    rootFlowId: row.root_id,
    startedAt: new Date(row.started_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}
