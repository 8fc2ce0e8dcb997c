import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { proposalToPaymentFlow } from '../../domain/proposalToPayment.js';
import { StartProposalToPayment } from '../../domain/proposalToPayment.schema.js';
import type { proposalToPayment } from '../../workflows/proposalToPayment.js';
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
      const { flowId, created } = await startFlow<typeof proposalToPayment>(deps, {
        definition: proposalToPaymentFlow,
        businessKey: body.proposal.proposalId,
        tenantId,
        tenantSlug,
        title: body.proposal.title,
        customer: body.proposal.customer.name,
        input: { ...body, tenantId, tenantSlug },
      });
      return c.json(flowStarted(flowId, created), created ? 201 : 200);
    },
  );
}
