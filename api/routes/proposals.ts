import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import {
  PROPOSAL_TO_PAYMENT_STEPS,
  proposalFlowId,
  StartProposalToPayment,
} from '../../domain/proposalToPayment.js';
import { BusinessKey, FlowState, FlowStep, TenantId } from '../../domain/searchAttributes.js';
import type { proposalToPayment } from '../../workflows/proposalToPayment.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent } from '../problem.js';

const Started = z
  .object({
    flowId: z.string(),
    created: z.boolean(),
    status: z.string().describe('Where to follow the flow'),
  })
  .openapi('FlowStarted');

export function registerProposalRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, temporal, config } = deps;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/flows/proposal-to-payment',
      tags: ['Flows'],
      summary:
        'Start proposal → contract → invoice → payment for an accepted proposal (idempotent on proposalId)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: {
        body: { required: true, content: { 'application/json': { schema: StartProposalToPayment } } },
      },
      responses: {
        201: { description: 'Started', content: { 'application/json': { schema: Started } } },
        200: {
          description: 'A flow for this proposal exists already; nothing new was started',
          content: { 'application/json': { schema: Started } },
        },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Needs the coordinator role', content: problemContent },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const { tenantId, tenantSlug } = c.get('principal');
      const flowId = proposalFlowId(tenantSlug, body.proposal.proposalId);
      const answer = (created: boolean) => ({
        flowId,
        created,
        status: `/v1/flows/${encodeURIComponent(flowId)}`,
      });
      const now = new Date();
      // The row is claimed first: whoever inserts it starts the flow; a second request finds it and starts nothing.
      const claimed = await db
        .insertInto('flows')
        .values({
          id: flowId,
          tenant_id: tenantId,
          flow_type: 'proposalToPayment',
          business_key: body.proposal.proposalId,
          run_id: null,
          state: 'running',
          current_step: null,
          progress_done: 0,
          progress_total: PROPOSAL_TO_PAYMENT_STEPS.length,
          waiting_for: null,
          title: body.proposal.title,
          ended_at: null,
          attention: JSON.stringify(null),
          version: 0,
          started_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!claimed) return c.json(answer(false), 200);
      try {
        await temporal.workflow.start<typeof proposalToPayment>('proposalToPayment', {
          taskQueue: config.temporal.taskQueue,
          workflowId: flowId,
          args: [{ ...body, tenantId, tenantSlug }],
          workflowIdConflictPolicy: 'USE_EXISTING',
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: TenantId, value: tenantId },
            { key: BusinessKey, value: body.proposal.proposalId },
            { key: FlowState, value: 'running' },
            { key: FlowStep, value: '' },
          ],
        });
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) return c.json(answer(false), 200);
        await db.deleteFrom('flows').where('id', '=', flowId).where('version', '=', '0').execute();
        throw error;
      }
      return c.json(answer(true), 201);
    },
  );
}
