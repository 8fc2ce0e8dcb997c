import { randomUUID } from 'node:crypto';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { sql } from 'kysely';
import {
  automationStepId,
  createAutomationStep,
  listScenarios,
  saveScenario,
  scenarioConfig,
} from '../../db/automation.js';
import { automationBusinessKey, automationStepFlow } from '../../domain/automation.js';
import {
  AutomationDevice,
  ScenarioConfig,
  ScenarioName,
  StartAutomationStep,
} from '../../domain/automation.schema.js';
import { type ResolveRequest, resolveStep } from '../../domain/flow.js';
import { FlowStatus } from '../../domain/flow.schema.js';
import type { automationStep } from '../../workflows/automationStep.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent, problemJson, problemType } from '../problem.js';
import { startFlow } from '../startFlow.js';
import { actorOf, askFlow, decisionProblem, json } from './shared.js';

const ScenarioParam = z.object({ scenario: ScenarioName });
const StepParam = z.object({ stepId: z.uuid() });
const Scenario = z
  .object({ scenario: z.string(), config: ScenarioConfig, configured: z.boolean() })
  .openapi('AutomationScenario');
const Step = z
  .object({
    stepId: z.uuid(),
    shipmentItemId: z.string(),
    scenario: z.string(),
    state: z.string(),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    deviceId: z.string().nullable(),
    fallbackNotes: z.string().nullable(),
    flowId: z.string(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('AutomationStep');
const StepQuery = z.object({
  scenario: ScenarioName.optional(),
  state: z
    .enum(['pending', 'running', 'retrying', 'failed', 'completed', 'fallback_triggered', 'cancelled'])
    .optional(),
  shipmentItemId: z.string().max(64).optional(),
  shipmentId: z.uuid().optional().describe('The steps of this shipment’s items'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const Fallback = z.object({
  notes: z.string().trim().min(1).max(2_000).describe('What was done by hand, and where'),
});
const Retry = z.object({
  device: AutomationDevice.partial().optional().describe('Corrections for this and later attempts'),
  note: z.string().trim().max(1_000).optional(),
});
const refusals = {
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'Not allowed for this key’s roles', content: problemContent },
};

type StepRow = {
  id: string;
  shipment_item_id: string;
  scenario: string;
  state: string;
  attempts: number;
  last_error: string | null;
  device_id: string | null;
  fallback_notes: string | null;
  flow_id: string;
  created_at: Date;
  updated_at: Date;
};
const stepView = (row: StepRow): z.infer<typeof Step> => ({
  stepId: row.id,
  shipmentItemId: row.shipment_item_id,
  scenario: row.scenario,
  state: row.state,
  attempts: row.attempts,
  lastError: row.last_error,
  deviceId: row.device_id,
  fallbackNotes: row.fallback_notes,
  flowId: row.flow_id,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/**
 * Automation steps: scenario configuration (admin), starting a step for a shipment item, the monitoring list with
 * per-scenario counts, and ops' two ways out of a failed step: retry (with corrections) or fallback (by hand).
 */
export function registerAutomationRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db } = deps;
  const notFound = (c: Context) =>
    problemJson(c, 404, {
      type: problemType('not-found'),
      title: 'Step not found',
      detail: 'No such automation step.',
    });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/automation-scenarios',
      tags: ['Automation'],
      summary: 'Every scenario the tenant runs, with its configuration (the default where it set none)',
      security: [{ apiKey: [] }],
      responses: {
        200: { description: 'By name', content: json(z.object({ scenarios: z.array(Scenario) })) },
        401: refusals[401],
      },
    }),
    async (c) => c.json({ scenarios: await listScenarios(db, c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/automation-scenarios/{scenario}',
      tags: ['Automation'],
      summary: 'Configures a scenario (admin): operations, attempts, delay, timeout, and what ops do by hand',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { params: ScenarioParam, body: { required: true, content: json(ScenarioConfig) } },
      responses: {
        200: { description: 'Saved; steps started from now on use it', content: json(Scenario) },
        400: { description: 'Invalid request', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const { scenario } = c.req.valid('param');
      const config = c.req.valid('json');
      await saveScenario(db, {
        tenantId: principal.tenantId,
        scenario,
        config,
        actor: actorOf(principal),
        requestId: c.get('requestId'),
      });
      return c.json({ scenario, config, configured: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/automation-steps',
      tags: ['Automation'],
      summary:
        'Starts a shipment item’s automation step for a scenario (coordinator); idempotent per item and scenario',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: { body: { required: true, content: json(StartAutomationStep) } },
      responses: {
        201: { description: 'Started', content: json(Step) },
        200: {
          description: 'This item’s step for the scenario exists; nothing new started',
          content: json(Step),
        },
        400: { description: 'Invalid request, or a scenario nobody configured', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const { tenantId, tenantSlug } = principal;
      const body = c.req.valid('json');
      const config = await scenarioConfig(db, tenantId, body.scenario);
      if (!config)
        return invalidField(c, 'body.scenario', `no scenario ${body.scenario}: configure it first`);
      const stepId =
        (await automationStepId(db, tenantId, body.shipmentItemId, body.scenario)) ?? randomUUID();
      const businessKey = automationBusinessKey(body.shipmentItemId, body.scenario);
      const flowId = automationStepFlow.flowId(tenantSlug, businessKey);
      const { created } = await startFlow<typeof automationStep>(deps, {
        definition: automationStepFlow,
        businessKey,
        tenantId,
        tenantSlug,
        title: `${body.scenario} for ${body.shipmentItemId}`,
        input: { ...body, tenantId, tenantSlug, stepId, config },
        records: (trx) => createAutomationStep(trx, { ...body, id: stepId, tenantId, flowId }),
      });
      const row = await db
        .selectFrom('automation_steps')
        .selectAll()
        .where('id', '=', stepId)
        .executeTakeFirstOrThrow();
      return c.json(stepView(row), created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/automation-steps',
      tags: ['Automation'],
      summary: 'Automation steps, newest first, with counts and the success rate per scenario (for support)',
      security: [{ apiKey: [] }],
      request: { query: StepQuery },
      responses: {
        200: {
          description: 'Steps and per-scenario figures (over all the tenant’s steps)',
          content: json(
            z.object({
              steps: z.array(Step),
              scenarios: z.array(
                z.object({
                  scenario: z.string(),
                  counts: z.record(z.string(), z.number().int()),
                  successRate: z.number().nullable().describe('Completed by the system, of those that ended'),
                }),
              ),
            }),
          ),
        },
        400: { description: 'Invalid request', content: problemContent },
        401: refusals[401],
      },
    }),
    async (c) => {
      const { tenantId } = c.get('principal');
      const query = c.req.valid('query');
      let rows = db.selectFrom('automation_steps').selectAll().where('tenant_id', '=', tenantId);
      if (query.scenario) rows = rows.where('scenario', '=', query.scenario);
      if (query.state) rows = rows.where('state', '=', query.state);
      if (query.shipmentItemId) rows = rows.where('shipment_item_id', '=', query.shipmentItemId);
      if (query.shipmentId)
        rows = rows.where(
          'shipment_item_id',
          'in',
          db
            .selectFrom('shipment_items')
            .select(sql<string>`id::text`.as('id'))
            .where('tenant_id', '=', tenantId)
            .where('shipment_id', '=', query.shipmentId),
        );
      const steps = await rows.orderBy('created_at', 'desc').limit(query.limit).execute();
      const counts = await db
        .selectFrom('automation_steps')
        .select(['scenario', 'state', sql<string>`count(*)`.as('n')])
        .where('tenant_id', '=', tenantId)
        .groupBy(['scenario', 'state'])
        .execute();
      const scenarios = [...new Set(counts.map((row) => row.scenario))].sort().map((scenario) => {
        const mine = Object.fromEntries(
          counts.filter((row) => row.scenario === scenario).map((row) => [row.state, Number(row.n)]),
        );
        const ended = (mine.completed ?? 0) + (mine.fallback_triggered ?? 0) + (mine.failed ?? 0);
        return { scenario, counts: mine, successRate: ended === 0 ? null : (mine.completed ?? 0) / ended };
      });
      return c.json({ steps: steps.map(stepView), scenarios }, 200);
    },
  );

  const stepOf = (tenantId: string, stepId: string) =>
    db
      .selectFrom('automation_steps')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', stepId)
      .executeTakeFirst();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/automation-steps/{stepId}',
      tags: ['Automation'],
      summary: 'One automation step',
      security: [{ apiKey: [] }],
      request: { params: StepParam },
      responses: {
        200: { description: 'The step', content: json(Step) },
        400: { description: 'Invalid request', content: problemContent },
        401: refusals[401],
        404: { description: 'No such step', content: problemContent },
      },
    }),
    async (c) => {
      const row = await stepOf(c.get('principal').tenantId, c.req.valid('param').stepId);
      return row ? c.json(stepView(row), 200) : notFound(c);
    },
  );

  /** A decision about a failed step, through its flow. */
  async function decide(c: Context<ApiEnv>, stepId: string, request: Omit<ResolveRequest, 'actor'>) {
    const principal = c.get('principal');
    const row = await stepOf(principal.tenantId, stepId);
    if (!row) return notFound(c);
    const outcome = await askFlow(deps, row.flow_id, (handle) =>
      handle.executeUpdate(resolveStep, { args: [{ ...request, actor: actorOf(principal) }] }),
    );
    if (!('status' in outcome)) return decisionProblem(c, outcome);
    return c.json(outcome.status, 200);
  }

  const decisionResponses = {
    200: { description: 'The step’s flow after the decision', content: json(FlowStatus) },
    400: { description: 'Invalid request', content: problemContent },
    404: { description: 'No such step', content: problemContent },
    409: { description: 'The step is not waiting for a person', content: problemContent },
    503: { description: 'The flow did not answer', content: problemContent },
    ...refusals,
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/automation-steps/{stepId}/retry',
      tags: ['Automation'],
      summary: 'Runs a failed step again now (coordinator), optionally with corrected device data',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: { params: StepParam, body: { required: true, content: json(Retry) } },
      responses: decisionResponses,
    }),
    async (c) => {
      const body = c.req.valid('json');
      return decide(c, c.req.valid('param').stepId, {
        action: 'retry',
        note: body.note,
        input: body.device ? { device: body.device } : {},
      }) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/automation-steps/{stepId}/fallback',
      tags: ['Automation'],
      summary: 'Ends a failed step as done by hand (coordinator): `fallback_triggered`, with what was done',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: { params: StepParam, body: { required: true, content: json(Fallback) } },
      responses: decisionResponses,
    }),
    async (c) =>
      decide(c, c.req.valid('param').stepId, {
        action: 'fallback',
        note: c.req.valid('json').notes,
      }) as never,
  );
}
