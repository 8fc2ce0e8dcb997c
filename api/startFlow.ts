import { z } from '@hono/zod-openapi';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { FlowDefinition } from '../domain/flowDefinition.js';
import { BusinessKey, FlowState, FlowStep, TenantId } from '../domain/searchAttributes.js';
import type { ApiDeps } from './context.js';

/** A flow to start: its definition, and what the workflow `W` takes as its input (type-checked against it). */
export interface FlowToStart<W extends Workflow> {
  definition: FlowDefinition;
  businessKey: string;
  tenantId: string;
  tenantSlug: string;
  title: string;
  /** Who the flow is for, as the Temporal Web UI shows it beside the type and business key. */
  customer?: string;
  input: Parameters<W>[0];
  /** Another deployment's task queue than this process's (the one that received the news that starts it). */
  taskQueue?: string;
  /** Writes the business rows the flow works on, in the transaction that claims the flow. */
  records?: (trx: Kysely<Database>) => Promise<void>;
}

/**
 * The one way every flow type starts: once per business key. Its row is claimed first (with its business rows):
 * whoever inserts it starts the workflow; a second request finds it and starts nothing. Returns the flow's id and
 * whether this call started it.
 */
export async function startFlow<W extends Workflow>(
  { db, temporal, config }: Pick<ApiDeps, 'db' | 'temporal' | 'config'>,
  toStart: FlowToStart<W>,
): Promise<{ flowId: string; created: boolean }> {
  const { definition } = toStart;
  const flow = {
    ...toStart,
    flowId: definition.flowId(toStart.tenantSlug, toStart.businessKey),
    flowType: definition.type,
    stepCount: definition.steps.length,
  };
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
  if (!claimed) return { flowId: flow.flowId, created: false };
  try {
    await temporal.workflow.start(flow.flowType, {
      taskQueue: flow.taskQueue ?? config.temporal.taskQueue,
      workflowId: flow.flowId,
      args: [flow.input],
      // What the Web UI shows in every list and header: which flow this is, in the business's words.
      staticSummary: `${flow.flowType} ${flow.businessKey}: ${flow.title}`,
      staticDetails: [
        `**${flow.flowType}** \`${flow.businessKey}\``,
        `title: ${flow.title}`,
        flow.customer ? `customer: ${flow.customer}` : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
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
    if (error instanceof WorkflowExecutionAlreadyStartedError) return { flowId: flow.flowId, created: false };
    // Not started: the claim is given back so the request can be repeated (business rows are written idempotently).
    await db.deleteFrom('flows').where('id', '=', flow.flowId).where('version', '=', '0').execute();
    throw error;
  }
  return { flowId: flow.flowId, created: true };
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
