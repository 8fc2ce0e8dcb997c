import { z } from '@hono/zod-openapi';
import {
  ServiceError,
  type WorkflowHandle,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/workflow';
import type { Context } from 'hono';
import type { Actor, FlowStatus } from '../../domain/flow.js';
import type { Principal } from '../apiKeys.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemJson, problemType } from '../problem.js';

/** An id no row has: what a key scoped to an architect or crew it does not name may see (nothing). */
export const NOBODY = '00000000-0000-0000-0000-000000000000';

/** Who did it, as the audit trail records a person acting through an API key. */
export function actorOf(principal: Principal): Actor {
  return { type: 'user', id: principal.keyId, name: principal.keyName };
}

/** A route's JSON body or answer, as the OpenAPI routes declare it. */
export const json = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

/** A postal address as a page of the API shows it (a company's book, an order's billing, a destination). */
export const AddressView = z.object({
  street: z.string(),
  postcode: z.string(),
  city: z.string(),
  country: z.string(),
});

/** Who changes what, in which tenant, under which request: what a service records each change with. */
export function changeBy(c: Context<ApiEnv>) {
  const principal = c.get('principal');
  return { tenantId: principal.tenantId, actor: actorOf(principal), requestId: c.get('requestId') };
}

/** Keyset pagination: the position after the last row of a page, opaque to clients. */
export function encodeCursor(updatedAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([updatedAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { updatedAt: string; id: string } | undefined {
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // Only what encodeCursor writes: an exact ISO timestamp ("1" parses as a date in JavaScript, not in SQL).
    if (typeof updatedAt !== 'string' || typeof id !== 'string') return undefined;
    const time = new Date(updatedAt);
    if (Number.isNaN(time.getTime()) || time.toISOString() !== updatedAt) return undefined;
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

/** An Update's validator rejection is the flow saying "not now", with its reason. */
function updateRejection(error: unknown): string | undefined {
  if (error instanceof WorkflowUpdateFailedError) {
    const cause = error.cause as Error | undefined;
    return cause?.message ?? error.message;
  }
  return undefined;
}

export type DecisionOutcome<T = FlowStatus> =
  | { status: T }
  | { refused: string }
  /** No worker answered in time: the decision may still be taken once one runs. */
  | { unanswered: string };

/**
 * Asks a running flow something (a staff decision, an Update; its status, a query), which only a worker can
 * answer, and waits at most DECISION_WAIT_SECONDS. The flow's refusal comes back as the reason for a 409;
 * silence (no worker running, one just killed) is said as such instead of keeping the person waiting, or
 * answering 500 when Temporal gives up first.
 */
export async function askFlow<T = FlowStatus>(
  deps: Pick<ApiDeps, 'temporal' | 'config'>,
  flowId: string,
  ask: (handle: WorkflowHandle) => Promise<T>,
): Promise<DecisionOutcome<T>> {
  const waitMs = deps.config.api.decisionWaitMs;
  const patience = AbortSignal.timeout(waitMs);
  try {
    return {
      status: await deps.temporal.withAbortSignal(patience, () =>
        ask(deps.temporal.workflow.getHandle(flowId)),
      ),
    };
  } catch (error) {
    const rejection = updateRejection(error);
    if (rejection) return { refused: rejection };
    if (error instanceof WorkflowNotFoundError) return { refused: 'the flow has ended' };
    if (patience.aborted) {
      return {
        unanswered: `the flow did not answer within ${waitMs / 1000} s (is a worker running?); the decision may still be taken: look at the flow before deciding again`,
      };
    }
    // Temporal could not reach the flow's code: its last workflow task failed or timed out (a worker died in
    // it, say) and no worker has run it since, or the call timed out on the server's side.
    if (error instanceof ServiceError || error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
      return {
        unanswered: `the flow cannot answer now (${error.cause instanceof Error ? error.cause.message : error.message}); the decision may still be taken: look at the flow before deciding again`,
      };
    }
    throw error;
  }
}

/** The answer to a decision the flow did not take: 409 with its reason, or 503 when it did not answer. */
export function decisionProblem(c: Context, outcome: Exclude<DecisionOutcome<unknown>, { status: unknown }>) {
  return 'refused' in outcome
    ? problemJson(c, 409, {
        type: problemType('conflict'),
        title: 'Not possible now',
        detail: outcome.refused,
      })
    : problemJson(c, 503, {
        type: problemType('unanswered'),
        title: 'The flow has not answered',
        detail: outcome.unanswered,
      });
}

/** 404 for something a request names that the tenant does not have, naming the field that named it. */
export function notFoundNamed(c: Context, field: string, what: string) {
  return problemJson(c, 404, {
    type: problemType('not-found'),
    title: 'Not found',
    detail: `No ${what}.`,
    errors: [{ field, message: `no ${what}` }],
  });
}
