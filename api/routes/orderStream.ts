import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import { findSource } from '../../db/analytics/sources.js';
import { type StatusNotice, statusEventsSince } from '../../db/analytics/statusLog.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent } from '../problem.js';
import { ANALYTICS_READERS } from './analyticsSources.js';
import { notFoundNamed } from './shared.js';

/** How many missed events a resuming stream is sent; beyond it, it is told to reload (`invalidate`). */
const RESUME_LIMIT = 1000;

/**
 * `GET /v1/stream/orders`: Server-Sent Events of the tenant's analytics orders. `order_updated` (with the status
 * event's id as the SSE id, so a client reconnecting with `Last-Event-ID` is sent what it missed first) when an
 * order's status or items change; `invalidate` when figures changed wholesale (settings edited, too much missed,
 * the stream's database connection interrupted). A comment every heartbeat keeps idle connections open.
 */
export function registerOrderStream(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/stream/orders',
      tags: ['Analytics'],
      summary: 'Live updates of analytics orders (Server-Sent Events)',
      description:
        'Events `order_updated` (data: orderId, externalOrderId, sourceId, statusId; id: the status event) and ' +
        '`invalidate` (data: sourceId, reason). Send `Last-Event-ID` to resume; works across API processes ' +
        '(PostgreSQL LISTEN/NOTIFY).',
      security: [{ apiKey: [] }],
      middleware: [requireRole(...ANALYTICS_READERS)] as const,
      request: {
        query: z.object({ source: z.uuid().optional().describe('Only this source’s orders') }),
        headers: z.object({
          'last-event-id': z
            .string()
            .regex(/^\d{1,19}$/)
            .optional(),
        }),
      },
      responses: {
        200: { description: 'The stream', content: { 'text/event-stream': { schema: z.string() } } },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Not a manager', content: problemContent },
        404: { description: 'No such source', content: problemContent },
      },
    }),
    async (c) => {
      const { tenantId } = c.get('principal');
      const { source } = c.req.valid('query');
      const lastEventId = c.req.valid('header')['last-event-id'];
      if (source && !(await findSource(deps.db, tenantId, source)))
        return notFoundNamed(c, 'query.source', `source ${source}`);
      return streamSSE(c, async (stream) => {
        const queue: (StatusNotice | 'heartbeat')[] = [];
        let closed = false;
        let wake: (() => void) | undefined;
        const push = (item: StatusNotice | 'heartbeat' | 'closed') => {
          if (item === 'closed') closed = true;
          else queue.push(item);
          wake?.();
        };
        // Subscribed before the missed events are read, so nothing falls between the two.
        const unsubscribe = deps.statusHub.subscribe({ tenantId, sourceId: source }, push);
        const heartbeat = setInterval(() => push('heartbeat'), deps.config.stream.heartbeatMs);
        stream.onAbort(() => push('closed'));
        const send = (notice: StatusNotice) =>
          notice.kind === 'order_updated'
            ? stream.writeSSE({
                event: 'order_updated',
                id: notice.id,
                data: JSON.stringify({
                  orderId: notice.orderId,
                  externalOrderId: notice.externalOrderId,
                  sourceId: notice.sourceId,
                  statusId: notice.statusId,
                }),
              })
            : stream.writeSSE({
                event: 'invalidate',
                data: JSON.stringify({ sourceId: notice.sourceId || null, reason: notice.reason }),
              });
        try {
          await stream.write(': connected\n\n');
          let resumedTo = 0n;
          if (lastEventId) {
            const missed = await statusEventsSince(deps.db, {
              tenantId,
              sourceId: source,
              afterId: lastEventId,
              limit: RESUME_LIMIT,
            });
            for (const notice of missed) await send(notice);
            resumedTo = BigInt(missed.at(-1)?.id ?? lastEventId);
            if (missed.length === RESUME_LIMIT)
              await send({ kind: 'invalidate', tenantId, sourceId: source ?? '', reason: 'too much missed' });
          }
          while (!closed) {
            for (let item = queue.shift(); item && !closed; item = queue.shift()) {
              if (item === 'heartbeat') await stream.write(': heartbeat\n\n');
              else if (!(item.kind === 'order_updated' && item.id && BigInt(item.id) <= resumedTo))
                await send(item);
            }
            if (!closed && queue.length === 0)
              await new Promise<void>((resolve) => {
                wake = resolve;
              });
            wake = undefined;
          }
        } finally {
          clearInterval(heartbeat);
          unsubscribe();
        }
      }) as never;
    },
  );
}
