import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { applyCourierNews, type CourierNews } from '../../db/shipments.js';
import { shipmentChanged } from '../../domain/order.js';
import {
  AfterShipWebhook,
  isAfterShipSignature,
  SIGNATURE_HEADER,
} from '../../integrations/couriers/aftership.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent } from '../problem.js';
import { verifiedWebhook, WebhookReceipt } from '../webhooks.js';
import { signalIfRunning } from './shared.js';

/**
 * Applies a courier's news and tells the order's flow. A repeated delivery tells the flow again (it reads the
 * facts, so that is harmless) in case the first one's telling was lost; ignored news is logged with why.
 */
export function courierNewsHandler(deps: Pick<ApiDeps, 'db' | 'temporal' | 'logger'>) {
  return async (news: CourierNews) => {
    const applied = await applyCourierNews(deps.db, news);
    if (applied.outcome === 'unknown_tracking') {
      deps.logger.warn(
        { courier: news.courierCode, tracking: news.trackingNumber, event: news.eventId },
        'courier news for no shipment of ours: ignored',
      );
      return applied;
    }
    if (applied.outcome !== 'applied')
      deps.logger.info(
        {
          shipmentId: applied.shipmentId,
          event: news.eventId,
          tag: news.tag,
          outcome: applied.outcome,
          reason: applied.reason,
        },
        'courier news ignored',
      );
    if (applied.outcome !== 'ignored')
      await signalIfRunning(deps, applied.flowId, shipmentChanged, {
        shipmentId: applied.shipmentId,
        eventId: news.eventId,
      });
    return applied;
  };
}

/** AfterShip's tracking webhooks (README, "Couriers"): signed with `aftership-hmac-sha256`, one per status change. */
export function registerCourierWebhook(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const apply = courierNewsHandler(deps);
  const genuine = verifiedWebhook((raw, c) => {
    const secret = deps.config.couriers.webhookSecret;
    if (!secret) return 'COURIER_WEBHOOK_SECRET is not configured';
    return isAfterShipSignature(secret, raw, c.req.header(SIGNATURE_HEADER))
      ? undefined
      : `bad ${SIGNATURE_HEADER}`;
  });
  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/couriers/aftership',
      tags: ['Webhooks'],
      summary: 'Courier tracking updates, as AfterShip sends them (signed)',
      description:
        'Verified with `aftership-hmac-sha256` (base64 HMAC-SHA256 of the raw body). A `tracking_update` moves ' +
        'the shipment of its courier (`msg.slug`) and tracking number forward only; a repeated event id, or a ' +
        'status older than the shipment’s, is kept and ignored. `Exception` puts the shipment before a person.',
      middleware: [genuine] as const,
      request: { body: { required: true, content: { 'application/json': { schema: AfterShipWebhook } } } },
      responses: {
        200: {
          description: 'Received',
          content: { 'application/json': { schema: WebhookReceipt.extend({ outcome: z.string() }) } },
        },
        400: { description: 'Forged or malformed', content: problemContent },
      },
    }),
    async (c) => {
      const webhook = c.req.valid('json');
      if (webhook.event !== 'tracking_update')
        return c.json({ received: true as const, duplicate: false, outcome: 'not_a_tracking_update' }, 200);
      const { msg } = webhook;
      const applied = await apply({
        courierCode: msg.slug,
        trackingNumber: msg.tracking_number,
        eventId: webhook.event_id,
        tag: msg.tag,
        subtag: msg.subtag,
        occurredAt: msg.updated_at ? new Date(msg.updated_at) : new Date(webhook.ts * 1000),
        via: 'aftership',
      });
      return c.json(
        { received: true as const, duplicate: applied.outcome === 'duplicate', outcome: applied.outcome },
        200,
      );
    },
  );
}
