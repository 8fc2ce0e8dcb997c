import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { SupplierReportedState } from '../../domain/supplierOrder.js';

/**
 * The `rest` supplier protocol (README, "Supplier protocol"): the shapes both sides exchange and the webhook
 * signature. Flowdesk's adapter and the supplier simulator are built on this one definition.
 */

export const SupplierStatus = z.enum(['pending', 'accepted', 'in_production', 'shipped', 'cancelled']);
export type SupplierStatus = z.infer<typeof SupplierStatus>;

export const RemoteOrderLine = z.object({
  sku: z.string(),
  description: z.string(),
  quantity: z.number().int().positive(),
});

export const PlaceOrderRequest = z.object({
  reference: z.string().min(1),
  lines: z.array(RemoteOrderLine).min(1),
  deliverTo: z.string().optional(),
  callbackUrl: z.url().optional(),
});
export type PlaceOrderRequest = z.infer<typeof PlaceOrderRequest>;

export const RemoteOrder = z.object({
  id: z.string(),
  reference: z.string(),
  status: SupplierStatus,
  /** YYYY-MM-DD or a full ISO 8601 timestamp, once the supplier has promised one. */
  expectedShipDate: z
    .union([z.iso.date(), z.iso.datetime({ offset: true })])
    .nullable()
    .optional(),
});
export type RemoteOrder = z.infer<typeof RemoteOrder>;

export const SupplierWebhook = z.object({
  id: z.string().min(1).max(200),
  type: z.literal('order.updated'),
  /** ISO 8601 with its offset ("2026-11-23T10:00:00Z"); anything else is refused, never guessed at. */
  created: z.iso.datetime({ offset: true }),
  data: RemoteOrder,
});
export type SupplierWebhook = z.infer<typeof SupplierWebhook>;

export const SIGNATURE_HEADER = 'supplier-signature';
/** Older deliveries are refused: a captured webhook cannot be replayed later. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const REPORTED: Partial<Record<SupplierStatus, SupplierReportedState>> = {
  accepted: 'ACCEPTED',
  in_production: 'IN_PRODUCTION',
  shipped: 'SHIPPED',
};

/** The order state a supplier's status stands for; `pending` and `cancelled` move nothing by themselves. */
export function reportedState(status: SupplierStatus): SupplierReportedState | undefined {
  return REPORTED[status];
}

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function signWebhook(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

/** Why a delivery's signature is refused, or undefined when it is genuine and fresh. */
export function checkWebhookSignature(
  secret: string,
  body: string,
  header: string | undefined,
  now = Math.floor(Date.now() / 1000),
): string | undefined {
  if (!header) return `the ${SIGNATURE_HEADER} header is missing`;
  const parts = new Map(
    header.split(',').map((part) => {
      const [key, ...value] = part.trim().split('=');
      return [key, value.join('=')] as const;
    }),
  );
  const timestamp = Number(parts.get('t'));
  const signature = parts.get('v1') ?? '';
  if (!Number.isInteger(timestamp)) return `the ${SIGNATURE_HEADER} header has no timestamp`;
  if (Math.abs(now - timestamp) > SIGNATURE_TOLERANCE_SECONDS)
    return 'the signature is too old (or from the future)';
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'the signature does not match';
  return undefined;
}
