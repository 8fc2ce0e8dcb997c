import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { listFlows } from '../../db/flowList.js';
import { TERMINAL_STATES } from '../../domain/flow.js';
import { FlowState, FlowStatus } from '../../domain/flow.schema.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { decideAboutFlow, ownedFlow, pauseOrResume, requestCancellation } from '../flowActions.js';
import { DECISION_NAMES, DECISIONS_BY_TYPE } from '../flowTypes.js';
import { invalidField, problemContent, problemJson, problemType } from '../problem.js';
import { readFlow } from '../readFlow.js';
import { actorOf, askFlow, decisionProblem, decodeCursor, encodeCursor } from './shared.js';

const FlowIdParam = z.object({
  flowId: z.string().min(1).max(300).openapi({ example: 'proposal:demo:P-1001' }),
});

const FlowSummary = z
  .object({
    flowId: z.string(),
    flowType: z.string(),
    businessKey: z.string(),
    state: FlowState,
    currentStep: z.string().nullable(),
    progress: z.object({ done: z.number().int(), total: z.number().int() }),
    waitingFor: z.string().nullable(),
    attention: z.record(z.string(), z.unknown()).nullable(),
    startedAt: z.string(),
    updatedAt: z.string(),
    endedAt: z.string().nullable(),
    parentFlowId: z.string().nullable().describe('The flow that started this one'),
    rootFlowId: z
      .string()
      .nullable()
      .describe('The flow at the top (the proposal, the project) it belongs to'),
  })
  .openapi('FlowSummary');

const FlowList = z
  .object({ flows: z.array(FlowSummary), nextCursor: z.string().nullable() })
  .openapi('FlowList');

const ListQuery = z.object({
  type: z.string().max(100).optional(),
  state: FlowState.optional(),
  step: z.string().max(100).optional(),
  q: z.string().max(200).optional().describe('Text searched in the flow id and business key'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

const PendingActivity = z.object({
  activityId: z.string(),
  activityType: z.string(),
  state: z.string(),
  attempt: z.number().int(),
  lastFailure: z.string().nullable(),
  nextAttemptAt: z.string().nullable(),
});

const FlowDetail = FlowStatus.extend({
  runId: z.string(),
  temporalState: z.string(),
  pendingActivities: z.array(PendingActivity),
  temporalUiUrl: z.string(),
}).openapi('FlowDetail');

const problemResponses = {
  400: { description: 'Invalid request', content: problemContent },
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'The key lacks the role', content: problemContent },
  404: { description: 'No such flow for this tenant', content: problemContent },
  409: { description: 'The action does not fit the flow’s state', content: problemContent },
  503: { description: 'The flow did not answer in time (no worker running?)', content: problemContent },
};

const Note = z.object({ reason: z.string().max(500).optional() });
const ResolveBody = z
  .object({
    action: z.enum(DECISION_NAMES).describe(`What to decide. By flow type: ${DECISIONS_BY_TYPE}.`),
    note: z.string().max(2000).optional(),
    input: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'What the decision carries, as its flow type defines it: `{"resend": true}` to retry an email',
      ),
    extendBy: z.string().max(50).optional(),
    extendUntil: z.iso.datetime({ offset: true }).optional(),
  })
  .openapi('ResolveStep');

function notFound(c: Context, flowId: string) {
  return problemJson(c, 404, {
    type: problemType('not-found'),
    title: 'Flow not found',
    detail: `No flow ${flowId}.`,
  });
}

function conflict(c: Context, detail: string) {
  return problemJson(c, 409, { type: problemType('conflict'), title: 'Not possible now', detail });
}

export function temporalUiUrl(deps: Pick<ApiDeps, 'config'>, flowId: string, runId: string): string {
  const { uiUrl, namespace } = deps.config.temporal;
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(flowId)}/${encodeURIComponent(runId)}/history`;
}

export function registerFlowRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/flows',
      tags: ['Flows'],
      summary: 'List flows, newest activity first',
      security: [{ apiKey: [] }],
      request: { query: ListQuery },
      responses: {
        200: { description: 'A page of flows', content: { 'application/json': { schema: FlowList } } },
        ...problemResponses,
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      const { tenantId } = c.get('principal');
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      if (query.cursor && !cursor) {
        return problemJson(c, 400, {
          type: problemType('validation'),
          title: 'Invalid request',
          detail: 'query.cursor: not a cursor returned by this API',
          errors: [{ field: 'query.cursor', message: 'not a cursor returned by this API' }],
        });
      }
      const rows = await listFlows(db, tenantId, query, { limit: query.limit + 1, after: cursor });
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return c.json(
        {
          flows: page.map((row) => ({
            flowId: row.id,
            flowType: row.flow_type,
            businessKey: row.business_key,
            state: row.state as FlowState,
            currentStep: row.current_step,
            progress: { done: row.progress_done, total: row.progress_total },
            waitingFor: row.waiting_for,
            attention: row.attention,
            startedAt: row.started_at.toISOString(),
            updatedAt: row.updated_at.toISOString(),
            endedAt: row.ended_at?.toISOString() ?? null,
            parentFlowId: row.parent_id,
            rootFlowId: row.root_id,
          })),
          nextCursor: rows.length > query.limit && last ? encodeCursor(last.updated_at, last.id) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/flows/{flowId}',
      tags: ['Flows'],
      summary: 'One flow: its status, pending activities and a link into the Temporal Web UI',
      security: [{ apiKey: [] }],
      request: { params: FlowIdParam },
      responses: {
        200: { description: 'The flow', content: { 'application/json': { schema: FlowDetail } } },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { flowId } = c.req.valid('param');
      const status = await readFlow(db, c.get('principal').tenantId, flowId);
      if (!status) return notFound(c, flowId);
      // What Temporal says of the execution: the server answers it, no worker is needed.
      const answer = await askFlow(deps, flowId, (handle) => handle.describe());
      if (!('status' in answer)) return decisionProblem(c, answer);
      const description = answer.status;
      const pending = description.raw.pendingActivities ?? [];
      return c.json(
        {
          ...status,
          runId: description.runId,
          temporalState: description.status.name,
          pendingActivities: pending.map((activity) => ({
            activityId: activity.activityId ?? '',
            activityType: activity.activityType?.name ?? '',
            state: String(activity.state ?? ''),
            attempt: activity.attempt ?? 0,
            lastFailure: activity.lastFailure?.message ?? null,
            nextAttemptAt: activity.nextAttemptScheduleTime?.seconds
              ? new Date(Number(activity.nextAttemptScheduleTime.seconds) * 1000).toISOString()
              : null,
          })),
          temporalUiUrl: temporalUiUrl(deps, flowId, description.runId),
        },
        200,
      );
    },
  );

  for (const [action, summary] of [
    ['pause', 'Pause at the next step boundary (reminders are silenced; a running step finishes)'],
    ['resume', 'Resume a paused flow'],
  ] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/v1/flows/{flowId}/${action}`,
        tags: ['Flows'],
        summary,
        security: [{ apiKey: [] }],
        middleware: [requireRole('coordinator', 'finance')] as const,
        request: {
          params: FlowIdParam,
          body: { required: false, content: { 'application/json': { schema: Note } } },
        },
        responses: {
          200: {
            description: 'The flow’s status after the action',
            content: { 'application/json': { schema: FlowStatus } },
          },
          ...problemResponses,
        },
      }),
      async (c) => {
        const { flowId } = c.req.valid('param');
        const principal = c.get('principal');
        if (!(await ownedFlow(deps, principal.tenantId, flowId))) return notFound(c, flowId);
        const body = (c.req.header('content-type') ? c.req.valid('json') : undefined) ?? {};
        const outcome = await pauseOrResume(deps, flowId, action, {
          actor: actorOf(principal),
          reason: body.reason,
        });
        if (!('status' in outcome)) return decisionProblem(c, outcome);
        return c.json(outcome.status, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/flows/{flowId}/resolve',
      tags: ['Flows'],
      summary:
        'Decide about a step that needs attention: retry (optionally with corrected input), skip, fallback, extend or resend',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: {
        params: FlowIdParam,
        body: { required: true, content: { 'application/json': { schema: ResolveBody } } },
      },
      responses: {
        200: {
          description: 'The flow’s status after the decision',
          content: { 'application/json': { schema: FlowStatus } },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { flowId } = c.req.valid('param');
      const principal = c.get('principal');
      const outcome = await decideAboutFlow(
        deps,
        { tenantId: principal.tenantId, actor: actorOf(principal) },
        flowId,
        c.req.valid('json'),
      );
      if ('notFound' in outcome) return notFound(c, flowId);
      if ('invalid' in outcome) return invalidField(c, outcome.invalid.field, outcome.invalid.message);
      if (!('status' in outcome)) return decisionProblem(c, outcome);
      return c.json(outcome.status, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/flows/{flowId}/cancel',
      tags: ['Flows'],
      summary:
        'Cancel the flow; it undoes what it must (void envelope, credit note, expire checkout session)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: {
        params: FlowIdParam,
        body: { required: false, content: { 'application/json': { schema: Note } } },
      },
      responses: {
        202: {
          description: 'Cancellation requested; the flow reaches `cancelled` once it has compensated',
          content: {
            'application/json': { schema: z.object({ flowId: z.string(), state: z.literal('cancelling') }) },
          },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { flowId } = c.req.valid('param');
      const principal = c.get('principal');
      const row = await ownedFlow(deps, principal.tenantId, flowId);
      if (!row) return notFound(c, flowId);
      if (TERMINAL_STATES.includes(row.state as FlowState))
        return conflict(c, `the flow is already ${row.state}`);
      const body = (c.req.header('content-type') ? c.req.valid('json') : undefined) ?? {};
      const refusal = await requestCancellation(
        deps,
        { tenantId: principal.tenantId, actor: actorOf(principal) },
        flowId,
        body.reason,
        c.get('requestId'),
      );
      if (refusal) return decisionProblem(c, refusal);
      return c.json({ flowId, state: 'cancelling' as const }, 202);
    },
  );

  const TimelineEvent = z
    .object({
      id: z.string(),
      type: z.string(),
      occurredAt: z.string(),
      actor: z.record(z.string(), z.unknown()),
      entity: z.object({ type: z.string(), id: z.string() }),
      payload: z.record(z.string(), z.unknown()),
      schemaVersion: z.number().int().describe('The version of this event type’s payload'),
      meta: z.object({
        traceId: z
          .string()
          .nullable()
          .describe('Shared by every event of a chain: the flow that started it (a lead’s, for its project)'),
      }),
    })
    .openapi('TimelineEvent');

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/flows/{flowId}/events',
      tags: ['Flows'],
      summary:
        'The flow’s audit trail, oldest first: every step, decision and business event, with who did it',
      security: [{ apiKey: [] }],
      request: { params: FlowIdParam },
      responses: {
        200: {
          description: 'The events',
          content: { 'application/json': { schema: z.object({ events: z.array(TimelineEvent) }) } },
        },
        ...problemResponses,
      },
    }),
    async (c) => {
      const { flowId } = c.req.valid('param');
      const { tenantId } = c.get('principal');
      if (!(await ownedFlow(deps, tenantId, flowId))) return notFound(c, flowId);
      const rows = await db
        .selectFrom('domain_events')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('flow_id', '=', flowId)
        .orderBy('occurred_at')
        .orderBy('position')
        .execute();
      return c.json(
        {
          events: rows.map((row) => ({
            id: row.id,
            type: row.type,
            occurredAt: row.occurred_at.toISOString(),
            actor: row.actor,
            entity: { type: row.entity_type, id: row.entity_id },
            payload: row.payload,
            schemaVersion: row.schema_version,
            meta: { traceId: row.trace_id },
          })),
        },
        200,
      );
    },
  );
}
