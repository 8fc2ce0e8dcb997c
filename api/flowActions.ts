import { cancelRefusal } from '../db/cancelRules.js';
import { appendEvent } from '../db/events.js';
import { type Actor, pauseFlow, type ResolveRequest, resolveStep, resumeFlow } from '../domain/flow.js';
import type { ApiDeps } from './context.js';
import { checkDecision } from './flowTypes.js';
import { readFlow } from './readFlow.js';
import { askFlow, type DecisionOutcome } from './routes/shared.js';

/**
 * What staff do to a flow as a whole, from the API or the console: pause and resume (its children doing its current
 * work with it), and cancel. Each says, when the flow does not do it, why.
 */
export interface Who {
  tenantId: string;
  actor: Actor;
}

/** The flow's row, when it is the tenant's: another tenant's flow does not exist for them. */
export function ownedFlow(deps: Pick<ApiDeps, 'db'>, tenantId: string, flowId: string) {
  return deps.db
    .selectFrom('flows')
    .selectAll()
    .where('id', '=', flowId)
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
}

export async function pauseOrResume(
  deps: Pick<ApiDeps, 'temporal' | 'config'>,
  flowId: string,
  action: 'pause' | 'resume',
  request: { actor: Actor; reason?: string },
): Promise<DecisionOutcome> {
  const update = action === 'pause' ? pauseFlow : resumeFlow;
  const outcome = await askFlow(deps, flowId, (handle) => handle.executeUpdate(update, { args: [request] }));
  if (!('status' in outcome)) return outcome;
  // The children doing the current work (their reminders, their waits) pause and resume with their parent.
  await Promise.all(
    outcome.status.activeChildren.map((child) =>
      askFlow(deps, child, (handle) => handle.executeUpdate(update, { args: [request] })),
    ),
  );
  return outcome;
}

/**
 * A decision about the step that needs attention (retry with corrected input, skip, a flow type's own), checked
 * against the type of the flow it goes to: a child's, when the step is the child's, and the answer is then the
 * parent's status as it now reads (the child's decision moved the parent's row in the same transaction).
 */
export async function decideAboutFlow(
  deps: Pick<ApiDeps, 'db' | 'temporal' | 'config'>,
  who: Who,
  flowId: string,
  decision: Omit<ResolveRequest, 'actor'>,
): Promise<DecisionOutcome | { notFound: true } | { invalid: { field: string; message: string } }> {
  const row = await ownedFlow(deps, who.tenantId, flowId);
  if (!row) return { notFound: true };
  const request: ResolveRequest = { ...decision, actor: who.actor };
  const childId = (row.attention as { flowId?: string } | null)?.flowId;
  const target = childId ? await ownedFlow(deps, who.tenantId, childId) : row;
  const check = checkDecision(target?.flow_type ?? row.flow_type, request);
  if (!check.ok) return { invalid: { field: check.field, message: check.message } };
  const outcome = await askFlow(deps, target?.id ?? flowId, (handle) =>
    handle.executeUpdate(resolveStep, { args: [request] }),
  );
  if (!('status' in outcome)) return outcome;
  return { status: (await readFlow(deps.db, who.tenantId, flowId)) ?? outcome.status };
}

/**
 * Asks a flow to cancel, on record with who asked and why; the flow compensates and reaches `cancelled`. Returns
 * why it cannot (its flow type's rule: shipped goods are never cancelled, say; or its execution has closed in
 * Temporal already): nothing is recorded.
 */
export async function requestCancellation(
  deps: Pick<ApiDeps, 'db' | 'temporal'>,
  who: Who,
  flowId: string,
  reason: string | undefined,
  requestId: string,
): Promise<{ refused: string } | undefined> {
  const flow = await ownedFlow(deps, who.tenantId, flowId);
  const rule = flow && (await cancelRefusal(deps.db, who.tenantId, flow));
  if (rule) return { refused: rule };
  const handle = deps.temporal.workflow.getHandle(flowId);
  const { status } = await handle.describe();
  if (status.name !== 'RUNNING') {
    return {
      refused: `the flow's execution is ${status.name.toLowerCase()} in Temporal; there is nothing to cancel`,
    };
  }
  await appendEvent(deps.db, {
    tenantId: who.tenantId,
    type: 'flow.cancel.requested',
    actor: who.actor,
    entity: { type: 'flow', id: flowId },
    flowId,
    payload: { reason },
    idempotencyKey: `${flowId}/cancel.requested/${requestId}`,
  });
  await handle.cancel();
  return undefined;
}
