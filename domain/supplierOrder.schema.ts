import { z } from 'zod';
import { RetrySettings } from './durations.js';
import { type DecisionSchemas, EmailRetryInput } from './flow.schema.js';
import { BusinessId } from './proposal.js';
import { SupplierCode, SupplierProfile } from './supplier.js';
import { SUPPLIER_ORDER_STATES } from './supplierOrder.js';

/** The schemas of supplier orders, for the API and activities; workflows use `supplierOrder.ts`. */

export const SupplierOrderState = z.enum([...SUPPLIER_ORDER_STATES, 'CANCELLED']);
export type SupplierOrderState = z.infer<typeof SupplierOrderState>;

/** What a supplier can tell us about an order; RECEIVED is the warehouse's to say. */
export const SupplierReportedState = z.enum(['ACCEPTED', 'IN_PRODUCTION', 'SHIPPED']);
export type SupplierReportedState = z.infer<typeof SupplierReportedState>;

export const SupplierOrderLine = z.object({
  sku: z.string().trim().min(1).max(64),
  description: z.string().trim().min(1).max(500),
  quantity: z.number().int().positive().max(1_000_000),
});
export type SupplierOrderLine = z.infer<typeof SupplierOrderLine>;

/** What staff send to order from a supplier. */
export const StartSupplierOrder = z.object({
  orderId: BusinessId,
  supplier: SupplierCode,
  lines: z
    .array(SupplierOrderLine)
    .min(1)
    .max(500)
    .refine((lines) => new Set(lines.map((line) => line.sku)).size === lines.length, {
      error: 'each sku appears once',
    }),
  deliverTo: z.string().trim().min(1).max(500).optional(),
  retry: RetrySettings.prefault({}),
});
export type StartSupplierOrder = z.infer<typeof StartSupplierOrder>;

export const SupplierOrderInput = StartSupplierOrder.omit({ supplier: true }).extend({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  supplier: SupplierProfile,
});
export type SupplierOrderInput = z.infer<typeof SupplierOrderInput>;

/**
 * An operator's re-order decision names the next supplier by id; the flow loads it within its own tenant. The
 * profile goes along only for flows of builds before flowdesk-3, which took it as given (the reorder route looks
 * it up in the caller's tenant, and the generic resolve route refuses `reorder`).
 */
export const ReorderInput = z.object({ supplierId: z.uuid(), supplier: SupplierProfile.optional() });
export type ReorderInput = z.infer<typeof ReorderInput>;

export const supplierOrderDecisions = {
  retry: EmailRetryInput,
  reorder: { route: 'POST /v1/supplier-orders/{orderId}/reorder' },
} satisfies DecisionSchemas;
