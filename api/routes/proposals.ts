import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import {
  PROPOSAL_TO_PAYMENT_STEPS,
  type ProposalToPaymentInput,
  proposalFlowId,
} from '../../domain/proposalToPayment.js';
import { StartProposalToPayment } from '../../domain/proposalToPayment.schema.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent } from '../problem.js';
import { FlowStarted, flowStarted, startFlow } from '../startFlow.js';

export function registerProposalRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
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
        201: { description: 'Started', content: { 'application/json': { schema: FlowStarted } } },
        200: {
          description: 'A flow for this proposal exists already; nothing new was started',
          content: { 'application/json': { schema: FlowStarted } },
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
      const created = await startFlow(deps, {
        flowId,
        flowType: 'proposalToPayment',
        businessKey: body.proposal.proposalId,
        tenantId,
        title: body.proposal.title,
        stepCount: PROPOSAL_TO_PAYMENT_STEPS.length,
        input: { ...body, tenantId, tenantSlug } satisfies ProposalToPaymentInput,
      });
      return c.json(flowStarted(flowId, created), created ? 201 : 200);
    },
  );
}
