import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { changeSource, createSource, listSources } from '../../db/analytics/sources.js';
import { NewSource, SourceChange } from '../../domain/analytics.schema.js';
import { outsideUrlRefusal } from '../../integrations/outbound/address.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent } from '../problem.js';
import { changeBy, json, notFoundNamed } from './shared.js';

/**
 * A tenant's status sources (README, "Status analytics"): its own flows, made with the tenant, and the outside CRM
 * projects an admin adds. A new CRM source's webhook secret is in the answer that made it, and nowhere after.
 */

export const SourceView = z
  .object({
    id: z.uuid(),
    kind: z.enum(['flowdesk', 'keycrm']),
    name: z.string(),
    baseUrl: z.string().nullable(),
    timezone: z.string(),
    allowedIps: z.array(z.string()),
    active: z.boolean(),
    webhookPath: z.string().nullable().describe('Where the CRM delivers, with `?secret=`'),
    statusesRefreshedAt: z.iso.datetime().nullable(),
  })
  .openapi('StatusSource');

export const ANALYTICS_READERS = ['coordinator', 'finance', 'viewer'] as const;

export function registerAnalyticsSourceRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db } = deps;
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/analytics/sources',
      tags: ['Analytics'],
      summary: 'The tenant’s status sources: its own flows and outside CRMs',
      security: [{ apiKey: [] }],
      middleware: [requireRole(...ANALYTICS_READERS)] as const,
      responses: {
        200: { description: 'Oldest first', content: json(z.object({ sources: z.array(SourceView) })) },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Not a manager', content: problemContent },
      },
    }),
    async (c) => c.json({ sources: await listSources(db, c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/analytics/sources',
      tags: ['Analytics'],
      summary: 'Adds an outside CRM project as a source (admin)',
      description:
        'The answer holds the webhook secret, shown this once; KeyCRM is set up with the URL it gives.',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { body: { required: true, content: json(NewSource) } },
      responses: {
        201: {
          description: 'Added',
          content: json(
            z.object({
              source: SourceView,
              webhookSecret: z.string(),
              webhookUrl: z.string().describe('What KeyCRM’s “Send webhook” action posts to'),
            }),
          ),
        },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Needs the admin role', content: problemContent },
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const urlRefusal = await outsideUrlRefusal(body.baseUrl, deps.config.supplierUrls);
      if (urlRefusal) return invalidField(c, 'body.baseUrl', urlRefusal);
      const { source, webhookSecret } = await createSource(db, deps.secrets, { ...body, ...changeBy(c) });
      const webhookUrl = `${deps.config.api.publicUrl}${source.webhookPath}?secret=${webhookSecret}`;
      return c.json({ source, webhookSecret, webhookUrl }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/analytics/sources/{sourceId}',
      tags: ['Analytics'],
      summary: 'Changes an outside CRM source (admin)',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: {
        params: z.object({ sourceId: z.uuid() }),
        body: { required: true, content: json(SourceChange) },
      },
      responses: {
        200: { description: 'Changed', content: json(SourceView) },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Needs the admin role', content: problemContent },
        404: { description: 'No such CRM source', content: problemContent },
      },
    }),
    async (c) => {
      const { sourceId } = c.req.valid('param');
      const body = c.req.valid('json');
      const urlRefusal = body.baseUrl && (await outsideUrlRefusal(body.baseUrl, deps.config.supplierUrls));
      if (urlRefusal) return invalidField(c, 'body.baseUrl', urlRefusal);
      const source = await changeSource(db, deps.secrets, {
        ...body,
        ...changeBy(c),
        sourceId,
      });
      return source ? c.json(source, 200) : notFoundNamed(c, 'path.sourceId', `CRM source ${sourceId}`);
    },
  );
}
