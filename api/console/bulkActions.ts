import { sql } from 'kysely';
import type { Db } from '../../db/client.js';
import type { Actor } from '../../domain/flow.js';
import type { ApiDeps } from '../context.js';
import { ownedFlow, pauseOrResume, requestCancellation } from '../flowActions.js';

/**
 * Pause, resume or cancel many flows at once: each flow in turn, in the background, each answered on its own (one
 * that refuses, already ended say, does not stop the others), each result recorded as it comes so the page that
 * asked shows the progress. The results stay on record with who asked and why.
 */
export type BulkAction = 'pause' | 'resume' | 'cancel';

export interface BulkRequest {
  tenantId: string;
  actor: Actor;
  action: BulkAction;
  reason: string;
  flowIds: string[];
  requestId: string;
}

export async function startBulkAction(
  deps: Pick<ApiDeps, 'db' | 'temporal' | 'config' | 'logger'>,
  request: BulkRequest,
): Promise<string> {
  const row = await deps.db
    .insertInto('console_bulk_actions')
    .values({
      tenant_id: request.tenantId,
      requested_by: request.actor.id,
      action: request.action,
      reason: request.reason,
      flow_ids: request.flowIds,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  void runBulkAction(deps, row.id, request).catch((error) =>
    deps.logger.error({ err: error, bulkActionId: row.id }, 'bulk action stopped before its end'),
  );
  return row.id;
}

async function runBulkAction(
  deps: Pick<ApiDeps, 'db' | 'temporal' | 'config'>,
  id: string,
  request: BulkRequest,
): Promise<void> {
  const who = { tenantId: request.tenantId, actor: request.actor };
  for (const flowId of request.flowIds) {
    const result = await actOn(deps, who, flowId, request);
    await deps.db
      .updateTable('console_bulk_actions')
      .set({ results: sql`results || ${JSON.stringify([result])}::jsonb` })
      .where('id', '=', id)
      .execute();
  }
  await deps.db
    .updateTable('console_bulk_actions')
    .set({ finished_at: new Date() })
    .where('id', '=', id)
    .execute();
}

async function actOn(
  deps: Pick<ApiDeps, 'db' | 'temporal' | 'config'>,
  who: { tenantId: string; actor: Actor },
  flowId: string,
  request: BulkRequest,
): Promise<{ flowId: string; ok: boolean; said: string }> {
  if (!(await ownedFlow(deps, who.tenantId, flowId))) return { flowId, ok: false, said: 'no such flow' };
  if (request.action === 'cancel') {
    const refusal = await requestCancellation(
      deps,
      who,
      flowId,
      request.reason,
      `${request.requestId}/${flowId}`,
    );
    return { flowId, ok: !refusal, said: refusal?.refused ?? 'cancelling' };
  }
  const outcome = await pauseOrResume(deps, flowId, request.action, {
    actor: who.actor,
    reason: request.reason,
  });
  return 'status' in outcome
    ? { flowId, ok: true, said: `now ${outcome.status.state}` }
    : { flowId, ok: false, said: 'refused' in outcome ? outcome.refused : outcome.unanswered };
}

export function readBulkAction(db: Db, tenantId: string, id: string) {
  return db
    .selectFrom('console_bulk_actions')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}
