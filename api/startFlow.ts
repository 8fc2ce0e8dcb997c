import { z } from '@hono/zod-openapi';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { BusinessKey, FlowState, FlowStep, TenantId } from '../domain/searchAttributes.js';
import type { ApiDeps } from './context.js';

export interface FlowToStart {
  flowId: string;
  /** The workflow type, which is also the flow's type in the list. */
  flowType: string;
  businessKey: string;
  tenantId: string;
  title: string;
  stepCount: number;
  input: unknown;
  /** Writes the business rows the flow works on, in the transaction that claims the flow. */
  records?: (trx: Kysely<Database>) => Promise<void>;
}

/**
 * Starts a flow once per business key. Its row is claimed first (with its business rows): whoever inserts it
 * starts the workflow; a second request finds it and starts nothing. Returns whether this call started it.
 */
export async function startFlow({ db, temporal, config }: ApiDeps, flow: FlowToStart): Promise<boolean> {
  const now = new Date();
  const claim = (executor: Kysely<Database>) =>
    executor
      .insertInto('flows')
      .values({
        id: flow.flowId,
        tenant_id: flow.tenantId,
        flow_type: flow.flowType,
        business_key: flow.businessKey,
        run_id: null,
        state: 'running',
        current_step: null,
        progress_done: 0,
        progress_total: flow.stepCount,
        waiting_for: null,
        title: flow.title,
        ended_at: null,
        attention: JSON.stringify(null),
        version: 0,
        started_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
  const { records } = flow;
  // One statement when there is nothing else to write: a transaction would cost two more round trips per start.
  const claimed = records
    ? await db.transaction().execute(async (trx) => {
        const row = await claim(trx);
        if (row) await records(trx);
        return row !== undefined;
      })
    : (await claim(db)) !== undefined;
  if (!claimed) return false;
  try {
    await temporal.workflow.start(flow.flowType, {
      taskQueue: config.temporal.taskQueue,
      workflowId: flow.flowId,
      args: [flow.input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: TenantId, value: flow.tenantId },
        { key: BusinessKey, value: flow.businessKey },
        { key: FlowState, value: 'running' },
        { key: FlowStep, value: '' },
      ],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
    // Not started: the claim is given back so the request can be repeated (business rows are written idempotently).
    await db.deleteFrom('flows').where('id', '=', flow.flowId).where('version', '=', '0').execute();
    throw error;
  }
  return true;
}

export const FlowStarted = z
  .object({
    flowId: z.string(),
    created: z.boolean(),
    status: z.string().describe('Where to follow the flow'),
  })
  .openapi('FlowStarted');

export function flowStarted(flowId: string, created: boolean): z.infer<typeof FlowStarted> {
  return { flowId, created, status: `/v1/flows/${encodeURIComponent(flowId)}` };
}
