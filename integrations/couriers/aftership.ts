import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Courier tracking as AfterShip's Tracking webhooks send it, the protocol Flowdesk's courier adapters speak:
 * - the `aftership-hmac-sha256` header holds the base64 HMAC-SHA256 of the raw body under the webhook secret
 *   (https://www.aftership.com/docs/tracking/webhook/webhook-signature);
 * - the body is `{ts, event, event_id, is_tracking_first_tag, msg}`, `event` `tracking_update` for a status change
 *   and `msg` the tracking with its `tag` (https://www.aftership.com/docs/tracking/2025-01/webhook/webhook-specifications).
 */
export const SIGNATURE_HEADER = 'aftership-hmac-sha256';

export function signAfterShip(secret: string, rawBody: string): string {
  return createHmac('sha256', secret).update(rawBody, 'utf8').digest('base64');
}

export function isAfterShipSignature(
  secret: string,
  rawBody: string,
  presented: string | undefined,
): boolean {
  if (!presented) return false;
  const expected = Buffer.from(signAfterShip(secret, rawBody));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** AfterShip's delivery tags, in the order a shipment moves through them. */
export const TRACKING_TAGS = [
  'Pending',
  'InfoReceived',
  'InTransit',
  'OutForDelivery',
  'AttemptFail',
  'AvailableForPickup',
  'Delivered',
  'Exception',
  'Expired',
] as const;
export type TrackingTag = (typeof TRACKING_TAGS)[number];

export const AfterShipWebhook = z.object({
  ts: z.number().int(),
  event: z.string(),
  event_id: z.uuid(),
  is_tracking_first_tag: z.boolean().optional(),
  msg: z.object({
    tracking_number: z.string().min(1).max(100),
    slug: z.string().min(1).max(100),
    tag: z.enum(TRACKING_TAGS),
    subtag: z.string().optional(),
    updated_at: z.iso.datetime({ offset: true }).optional(),
  }),
});
export type AfterShipWebhook = z.infer<typeof AfterShipWebhook>;

/** What a tag means for a shipment: `exception` needs a person; everything else moves it forward or not at all. */
export type ShipmentProgress = 'ready' | 'in_transit' | 'delivered' | 'exception';

export function progressOf(tag: TrackingTag): ShipmentProgress {
  if (tag === 'Pending' || tag === 'InfoReceived') return 'ready';
  if (tag === 'Delivered') return 'delivered';
  if (tag === 'Exception' || tag === 'Expired') return 'exception';
  return 'in_transit';
}

const RANK: Record<ShipmentProgress, number> = { ready: 0, in_transit: 1, exception: 1, delivered: 2 };

/** Whether news moves a shipment forward: a repeated, older or late status does not (it is logged and ignored). */
export function movesForward(from: ShipmentProgress, to: ShipmentProgress): boolean {
  if (from === 'delivered') return false;
  if (to === 'exception') return from !== 'exception';
  return RANK[to] > RANK[from] || (from === 'exception' && to !== 'ready');
}
