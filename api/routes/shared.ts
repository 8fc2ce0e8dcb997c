import { type WorkflowHandle, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/workflow';
import { appendEvent } from '../../db/events.js';
import type { Actor, FlowStatus } from '../../domain/flow.js';
import type { Principal } from '../apiKeys.js';
import type { ApiDeps } from '../context.js';

/** Who did it, as the audit trail records a person acting through an API key. */
export function actorOf(principal: Principal): Actor {
  return { type: 'user', id: principal.keyId, name: principal.keyName };
}

/** Keyset pagination: the position after the last row of a page, opaque to clients. */
export function encodeCursor(updatedAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([updatedAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { updatedAt: string; id: string } | undefined {
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof updatedAt !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(updatedAt)))
      return undefined;
    return { updatedAt, id };
  } catch {
    return undefined;
  }
}

/**
 * Signals a flow about something already recorded in the database. A flow that has finished had everything it
 * needed, so its absence is not an error; the record stands either way.
 */
export async function signalIfRunning<Args extends unknown[]>(
  deps: Pick<ApiDeps, 'temporal'>,
  flowId: string,
  signal: SignalDefinition<Args>,
  ...args: Args
): Promise<void> {
  try {
    await deps.temporal.workflow.getHandle(flowId).signal(signal, ...args);
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

/** Asks a flow to cancel, on record with who asked and why; the flow compensates and reaches `cancelled`. */
export async function requestCancellation(
  deps: Pick<ApiDeps, 'db' | 'temporal'>,
  principal: Principal,
  flowId: string,
  reason: string | undefined,
  requestId: string,
): Promise<void> {
  await appendEvent(deps.db, {
    tenantId: principal.tenantId,
    type: 'flow.cancel.requested',
    actor: actorOf(principal),
    entity: { type: 'flow', id: flowId },
    flowId,
    payload: { reason },
    idempotencyKey: `${flowId}/cancel.requested/${requestId}`,
  });
  await deps.temporal.workflow.getHandle(flowId).cancel();
}

/** An Update's validator rejection is the flow saying "not now", with its reason. */
function updateRejection(error: unknown): string | undefined {
  if (error instanceof WorkflowUpdateFailedError) {
    const cause = error.cause as Error | undefined;
    return cause?.message ?? error.message;
  }
  return undefined;
}

/** Sends a staff decision (an Update) to a flow; the flow's refusal comes back as the reason for a 409. */
export async function decideOn(
  deps: Pick<ApiDeps, 'temporal'>,
  flowId: string,
  send: (handle: WorkflowHandle) => Promise<FlowStatus>,
): Promise<{ status: FlowStatus } | { refused: string }> {
  try {
    return { status: await send(deps.temporal.workflow.getHandle(flowId)) };
  } catch (error) {
    const rejection = updateRejection(error);
    if (rejection) return { refused: rejection };
    if (error instanceof WorkflowNotFoundError) return { refused: 'the flow has ended' };
    throw error;
  }
}
