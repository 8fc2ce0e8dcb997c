import { z } from 'zod';
import { boundedDuration, DurationText } from './durations.js';

export const SupplierCode = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, { error: 'must be 1-32 letters, digits, "_" or "-"' });

/** `rest`: the supplier's JSON API (README, "Supplier protocol"); `manual`: orders go out by email. */
export const SupplierProtocol = z.enum(['rest', 'manual']);
export type SupplierProtocol = z.infer<typeof SupplierProtocol>;

export const SupplierCapabilities = z.object({
  /** It sends signed status webhooks. */
  webhooks: z.boolean().default(false),
  /** It answers status requests; used when it sends no webhooks. */
  polling: z.boolean().default(false),
  /** Its API cancels an order; otherwise cancellations go by email. */
  cancellation: z.boolean().default(false),
});
export type SupplierCapabilities = z.infer<typeof SupplierCapabilities>;

/** What an admin sends to register or change a supplier. */
export const SupplierSettings = z
  .object({
    name: z.string().trim().min(1).max(200),
    protocol: SupplierProtocol,
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Sent as a bearer token to the supplier's API. Omitted, the stored one stays; `null` clears it. */
    credentials: z.string().min(8).max(500).nullable().optional(),
    /** The HMAC key its webhooks are signed with. Omitted, the stored one stays; `null` clears it. */
    webhookSecret: z.string().min(16).max(500).nullable().optional(),
    orderEmail: z.email(),
    capabilities: SupplierCapabilities.prefault({}),
    pollEvery: boundedDuration('1 second', '1 day').prefault('15 minutes'),
    /** From sending the order to its shipment, when the supplier gives no date of its own. */
    leadTime: boundedDuration('1 minute', '3650 days').prefault('14 days'),
  })
  .superRefine((supplier, ctx) => {
    if (supplier.protocol !== 'rest') return;
    if (!supplier.baseUrl)
      ctx.addIssue({ code: 'custom', path: ['baseUrl'], message: 'a rest supplier needs its API URL' });
    if (!supplier.capabilities.webhooks && !supplier.capabilities.polling) {
      ctx.addIssue({
        code: 'custom',
        path: ['capabilities'],
        message: 'a rest supplier sends webhooks or answers polls (or both)',
      });
    }
    // Omitted on a change, the stored secret stays: the route checks there is one.
    if (supplier.capabilities.webhooks && supplier.webhookSecret === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['webhookSecret'],
        message: 'webhooks are only accepted signed: give the secret they are signed with',
      });
    }
  });
export type SupplierSettings = z.infer<typeof SupplierSettings>;

/** What a supplier order's flow knows of its supplier: no credentials, no secrets (histories are readable). */
export const SupplierProfile = z.object({
  supplierId: z.uuid(),
  code: SupplierCode,
  name: z.string(),
  protocol: SupplierProtocol,
  orderEmail: z.email(),
  capabilities: SupplierCapabilities,
  pollEvery: DurationText,
  leadTime: DurationText,
});
export type SupplierProfile = z.infer<typeof SupplierProfile>;
