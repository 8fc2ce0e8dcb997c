import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { type WebhookSource, webhookSource } from '../../db/analytics/sources.js';
import { recordStatusEvents } from '../../db/analytics/statusLog.js';
import { KeyCrmWebhook } from '../../domain/analytics.schema.js';
import { crmInstant } from '../../integrations/crm/keycrm.js';
import { addressList, inAddressList } from '../clientAddress.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { verifiedWebhook, WebhookReceipt } from '../webhooks.js';
import { json } from './shared.js';

export const CRM_SECRET_HEADER = 'x-flowdesk-webhook-secret';
export const STATUS_CHANGE_EVENT = 'order.change_order_status';

/**
 * KeyCRM's status webhooks (README, "Status analytics"). KeyCRM does not sign them, so each source has its own
 * secret, given in the URL (`?secret=`, all KeyCRM's "Send webhook" action can carry) or in a header, and may
 * name the only addresses allowed to deliver. An unknown source and a wrong secret are refused alike, so the
 * answer tells a prober nothing.
 */
export function registerCrmWebhook(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  // The source a delivery was verified against, for its handler.
  const verified = new WeakMap<Request, WebhookSource>();
  const genuine = verifiedWebhook(async (_raw, c) => {
    const source = await webhookSource(deps.db, c.req.param('sourceId') ?? '').catch(() => undefined);
    const secret = c.req.header(CRM_SECRET_HEADER) ?? c.req.query('secret');
    if (source?.kind !== 'keycrm' || !source.isSecret(secret)) return 'unknown source or wrong secret';
    if (
      source.allowedIps.length > 0 &&
      !inAddressList(addressList(source.allowedIps), c.get('clientAddress'))
    )
      return `deliveries from ${c.get('clientAddress')} are not allowed for this source`;
    verified.set(c.req.raw, source);
    return undefined;
  }, 401);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/crm/keycrm/{sourceId}',
      tags: ['Webhooks'],
      summary: 'Order status changes, as KeyCRM’s “Send webhook” action sends them',
      description:
        `KeyCRM does not sign webhooks: give the source’s secret as \`?secret=\` in the URL or in ` +
        `\`${CRM_SECRET_HEADER}\`; a source may also allow only some addresses. An \`${STATUS_CHANGE_EVENT}\` ` +
        'is recorded once per order, status and time (a repeat changes nothing); other events are acknowledged ' +
        'and ignored. A time without an offset is read in the source’s time zone.',
      middleware: [genuine] as const,
      request: {
        params: z.object({ sourceId: z.uuid() }),
        query: z.object({ secret: z.string().max(200).optional() }),
        body: { required: true, content: json(KeyCrmWebhook) },
      },
      responses: {
        200: {
          description: 'Received',
          content: json(
            WebhookReceipt.extend({ outcome: z.enum(['recorded', 'duplicate', 'not_a_status_change']) }),
          ),
        },
        400: { description: 'Malformed', content: problemContent },
        401: {
          description: 'Unknown source, wrong secret, or an address not allowed',
          content: problemContent,
        },
        409: { description: 'The source is switched off', content: problemContent },
      },
    }),
    async (c) => {
      const source = verified.get(c.req.raw) as WebhookSource;
      if (!source.active)
        return problemJson(c, 409, {
          type: problemType('source-inactive'),
          title: 'Source switched off',
          detail: 'This source is switched off; its deliveries are not recorded. An admin can switch it on.',
        });
      const { event, context } = c.req.valid('json');
      if (event !== STATUS_CHANGE_EVENT)
        return c.json(
          { received: true as const, duplicate: false, outcome: 'not_a_status_change' as const },
          200,
        );
      const { recorded } = await recordStatusEvents(deps.db, {
        tenantId: source.tenantId,
        sourceId: source.id,
        events: [
          {
            orderId: context.id,
            statusId: context.status_id,
            groupHint: context.status_group_id ?? null,
            changedAt: crmInstant(context.status_changed_at, source.timezone),
            orderCreatedAt: context.created_at ? crmInstant(context.created_at, source.timezone) : null,
          },
        ],
      });
      return c.json(
        {
          received: true as const,
          duplicate: recorded === 0,
          outcome: recorded === 0 ? ('duplicate' as const) : ('recorded' as const),
        },
        200,
      );
    },
  );
}
