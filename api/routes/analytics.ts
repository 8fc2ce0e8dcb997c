import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { readDictionaries } from '../../db/analytics/dictionaries.js';
import { flowdeskKpis, kpis, orderFigures, orderTimeline } from '../../db/analytics/reports.js';
import { readOrderOverride, saveOrderOverride } from '../../db/analytics/settings.js';
import { findSource, flowdeskSourceId } from '../../db/analytics/sources.js';
import { OrderOverride } from '../../domain/analytics.schema.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { ANALYTICS_READERS } from './analyticsSources.js';
import { changeBy, decodeCursor, encodeCursor, json, notFoundNamed } from './shared.js';

/**
 * Status analytics (README, "Status analytics"): the orders of a source with their figures, one order's
 * timeline, KPIs and the status dictionaries. Managers read (coordinator, finance, viewer); admins set
 * per-order overrides. Every figure is computed from the status log when asked (db/analytics/figures.ts).
 */

const Sla = z.enum(['ok', 'near', 'over']).nullable();
const GroupTime = z.object({
  groupId: z.string(),
  groupName: z.string().nullable(),
  seconds: z.number().describe('Working seconds (its calendar)'),
  elapsedSeconds: z.number(),
  stays: z.number().int(),
  sla: Sla.describe('The worst of its stays'),
});
const CycleTime = z.object({
  code: z.string(),
  name: z.string(),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime().nullable().describe('Null: not ended yet (its time runs to now)'),
  seconds: z.number(),
});
const AnalyticsOrder = z
  .object({
    id: z.uuid(),
    sourceId: z.uuid(),
    externalId: z.string().describe('The order’s id in its source'),
    urgent: z.boolean(),
    urgentByOverride: z.boolean(),
    itemsState: z.enum(['pending', 'fetched', 'failed', 'own']),
    firstSeenAt: z.iso.datetime(),
    status: z
      .object({
        id: z.string(),
        name: z.string().nullable(),
        groupId: z.string(),
        groupName: z.string().nullable(),
        since: z.iso.datetime(),
      })
      .nullable(),
    groups: z.array(GroupTime),
    sla: Sla.describe('The worst SLA colour of its stays'),
    cycles: z.array(CycleTime),
  })
  .openapi('AnalyticsOrder');

const Stats = z.object({
  stays: z.number().int(),
  closed: z.number().int(),
  averageSeconds: z.number().nullable(),
  medianSeconds: z.number().nullable(),
  sla: z.object({
    judged: z.number().int(),
    ok: z.number().int(),
    near: z.number().int(),
    over: z.number().int(),
    okPct: z.number().nullable(),
    nearPct: z.number().nullable(),
    overPct: z.number().nullable(),
  }),
});
const CycleStats = z.object({
  started: z.number().int(),
  completed: z.number().int(),
  averageSeconds: z.number().nullable(),
  medianSeconds: z.number().nullable(),
});
const Kpis = z
  .object({
    sourceId: z.uuid(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    period: z.enum(['day', 'week', 'month']),
    orders: z.object({ all: z.number().int(), normal: z.number().int(), urgent: z.number().int() }),
    groups: z.array(
      z.object({
        groupId: z.string(),
        groupName: z.string().nullable(),
        all: Stats,
        normal: Stats,
        urgent: Stats,
      }),
    ),
    cycles: z.array(
      z.object({
        code: z.string(),
        name: z.string(),
        all: CycleStats,
        normal: CycleStats,
        urgent: CycleStats,
      }),
    ),
    periods: z.array(
      z.object({
        start: z.iso.datetime(),
        seconds: z.number(),
        groups: z.array(z.object({ groupId: z.string(), seconds: z.number() })),
      }),
    ),
    flowdesk: z
      .object({
        onTimeDelivery: z.object({
          completed: z.number().int(),
          onTime: z.number().int(),
          pct: z.number().nullable(),
        }),
        invoiceOverdue: z.object({
          due: z.number().int(),
          overdue: z.number().int(),
          pct: z.number().nullable(),
        }),
        firstPassConfiguration: z.object({
          locked: z.number().int(),
          firstPass: z.number().int(),
          pct: z.number().nullable(),
        }),
      })
      .optional()
      .describe('The tenant’s own source only: KPIs of its business besides stage times and cycles'),
  })
  .openapi('AnalyticsKpis');

const SourceQuery = z.uuid().optional().describe('A source id; absent: the tenant’s own flows');
const Flag = z.enum(['true', 'false']).transform((value) => value === 'true');
const DAY_MS = 86_400_000;

export function registerAnalyticsRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db } = deps;
  /** The source a request names (or the tenant's own flows), if it is the tenant's. */
  const sourceOf = async (tenantId: string, sourceId: string | undefined) =>
    sourceId
      ? findSource(db, tenantId, sourceId)
      : findSource(db, tenantId, await flowdeskSourceId(db, tenantId));

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/analytics/orders',
      tags: ['Analytics'],
      summary: 'A source’s orders with their current status, time per group, SLA colour and cycles',
      security: [{ apiKey: [] }],
      middleware: [requireRole(...ANALYTICS_READERS)] as const,
      request: {
        query: z.object({
          source: SourceQuery,
          urgent: Flag.optional(),
          status: z.string().max(100).optional().describe('Current status id'),
          group: z.string().max(100).optional().describe('Current status group id'),
          sla: z.enum(['ok', 'near', 'over']).optional().describe('Worst SLA colour'),
          limit: z.coerce.number().int().min(1).max(200).default(50),
          cursor: z.string().max(200).optional(),
        }),
      },
      responses: {
        200: {
          description: 'Newest first',
          content: json(z.object({ orders: z.array(AnalyticsOrder), nextCursor: z.string().nullable() })),
        },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Not a manager', content: problemContent },
        404: { description: 'No such source', content: problemContent },
      },
    }),
    async (c) => {
      const { tenantId } = c.get('principal');
      const query = c.req.valid('query');
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      if (query.cursor && !cursor)
        return problemJson(c, 400, {
          type: problemType('validation'),
          title: 'Invalid request',
          detail: 'query.cursor: not a cursor returned by this API',
          errors: [{ field: 'query.cursor', message: 'not a cursor returned by this API' }],
        });
      const source = await sourceOf(tenantId, query.source);
      if (!source) return notFoundNamed(c, 'query.source', `source ${query.source}`);
      const rows = await orderFigures(
        db,
        { tenantId, sourceId: source.id, now: new Date() },
        {
          urgent: query.urgent,
          statusId: query.status,
          groupId: query.group,
          sla: query.sla,
          after: cursor && { firstSeenAt: cursor.updatedAt, id: cursor.id },
          limit: query.limit + 1,
        },
      );
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return c.json(
        {
          orders: page,
          nextCursor:
            rows.length > query.limit && last ? encodeCursor(new Date(last.firstSeenAt), last.id) : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/analytics/orders/{orderId}/timeline',
      tags: ['Analytics'],
      summary: 'One order’s statuses and stays in time order, with durations and SLA, and its cycles',
      security: [{ apiKey: [] }],
      middleware: [requireRole(...ANALYTICS_READERS)] as const,
      request: { params: z.object({ orderId: z.uuid() }) },
      responses: {
        200: {
          description: 'In time order',
          content: json(
            z
              .object({
                order: AnalyticsOrder,
                intervals: z.array(
                  z.object({
                    statusId: z.string(),
                    statusName: z.string().nullable(),
                    groupId: z.string(),
                    groupName: z.string().nullable(),
                    enteredAt: z.iso.datetime(),
                    leftAt: z.iso.datetime().nullable(),
                    seconds: z.number(),
                    elapsedSeconds: z.number(),
                  }),
                ),
                stays: z.array(
                  z.object({
                    groupId: z.string(),
                    groupName: z.string().nullable(),
                    enteredAt: z.iso.datetime(),
                    leftAt: z.iso.datetime().nullable(),
                    seconds: z.number(),
                    limitSeconds: z.number().nullable(),
                    sla: Sla,
                  }),
                ),
                cycles: z.array(CycleTime),
              })
              .openapi('AnalyticsTimeline'),
          ),
        },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Not a manager', content: problemContent },
        404: { description: 'No such order', content: problemContent },
      },
    }),
    async (c) => {
      const { tenantId } = c.get('principal');
      const { orderId } = c.req.valid('param');
      const override = await readOrderOverride(db, tenantId, orderId);
      if (!override) return notFoundNamed(c, 'path.orderId', `order ${orderId}`);
      const scope = { tenantId, sourceId: override.sourceId, orderIds: [orderId] as const, now: new Date() };
      const [[order], timeline] = await Promise.all([
        orderFigures(db, scope, { limit: 1 }),
        orderTimeline(db, scope),
      ]);
      if (!order) return notFoundNamed(c, 'path.orderId', `order ${orderId}`);
      return c.json({ order, ...timeline }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/analytics/orders/{orderId}/override',
      tags: ['Analytics'],
      summary: 'Sets an order’s urgency, SLA profile or cycle bounds by hand (admin)',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: {
        params: z.object({ orderId: z.uuid() }),
        body: { required: true, content: json(OrderOverride) },
      },
      responses: {
        200: { description: 'Set', content: json(OrderOverride) },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Needs the admin role', content: problemContent },
        404: { description: 'No such order', content: problemContent },
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const change = changeBy(c);
      const current = await readOrderOverride(db, change.tenantId, orderId);
      const saved =
        current &&
        (await saveOrderOverride(
          db,
          { ...change, sourceId: current.sourceId, orderId },
          c.req.valid('json'),
        ));
      return saved ? c.json(saved, 200) : notFoundNamed(c, 'path.orderId', `order ${orderId}`);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/analytics/kpis',
      tags: ['Analytics'],
      summary: 'KPIs of a source over a period: orders, time per group, SLA, cycles, time per day/week/month',
      description:
        'Counts the stays and cycles begun in [from, to): averages and medians of the closed ones, SLA colours ' +
        'of all (an open stay judged by its time so far), split into normal and urgent orders.',
      security: [{ apiKey: [] }],
      middleware: [requireRole(...ANALYTICS_READERS)] as const,
      request: {
        query: z
          .object({
            source: SourceQuery,
            from: z.iso.datetime({ offset: true }).optional().describe('Default: 30 days before `to`'),
            to: z.iso.datetime({ offset: true }).optional().describe('Default: now'),
            period: z.enum(['day', 'week', 'month']).default('day'),
            urgent: Flag.optional().describe('Only urgent (true) or normal (false) orders'),
          })
          .refine((q) => !q.from || !q.to || new Date(q.from) < new Date(q.to), {
            error: 'must be before `to`',
            path: ['from'],
          }),
      },
      responses: {
        200: { description: 'The figures', content: json(Kpis) },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Not a manager', content: problemContent },
        404: { description: 'No such source', content: problemContent },
      },
    }),
    async (c) => {
      const { tenantId } = c.get('principal');
      const query = c.req.valid('query');
      const source = await sourceOf(tenantId, query.source);
      if (!source) return notFoundNamed(c, 'query.source', `source ${query.source}`);
      const to = query.to ? new Date(query.to) : new Date();
      const from = query.from ? new Date(query.from) : new Date(to.getTime() - 30 * DAY_MS);
      const [figures, flowdesk] = await Promise.all([
        kpis(
          db,
          { tenantId, sourceId: source.id, now: new Date() },
          { from, to, period: query.period, urgent: query.urgent },
        ),
        source.kind === 'flowdesk'
          ? flowdeskKpis(db, { tenantId, timezone: source.timezone, from, to })
          : undefined,
      ]);
      return c.json(
        {
          sourceId: source.id,
          from: from.toISOString(),
          to: to.toISOString(),
          period: query.period,
          ...figures,
          ...(flowdesk && { flowdesk }),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/analytics/dicts/statuses',
      tags: ['Analytics'],
      summary: 'The status groups and statuses of the tenant’s sources',
      security: [{ apiKey: [] }],
      middleware: [requireRole(...ANALYTICS_READERS)] as const,
      request: { query: z.object({ source: z.uuid().optional().describe('Absent: every source') }) },
      responses: {
        200: {
          description: 'Per source, its groups in order, each with its statuses',
          content: json(
            z.object({
              sources: z.array(
                z.object({
                  sourceId: z.uuid(),
                  groups: z.array(
                    z.object({
                      groupId: z.string(),
                      name: z.string(),
                      statuses: z.array(
                        z.object({
                          statusId: z.string(),
                          name: z.string(),
                          alias: z.string().nullable(),
                          active: z.boolean(),
                        }),
                      ),
                    }),
                  ),
                }),
              ),
            }),
          ),
        },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Not a manager', content: problemContent },
        404: { description: 'No such source', content: problemContent },
      },
    }),
    async (c) => {
      const { tenantId } = c.get('principal');
      const { source } = c.req.valid('query');
      if (source && !(await findSource(db, tenantId, source)))
        return notFoundNamed(c, 'query.source', `source ${source}`);
      return c.json({ sources: await readDictionaries(db, tenantId, source) }, 200);
    },
  );
}
