import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { RetrySettings } from './durations.js';
import { BusinessId } from './proposal.js';
import { SupplierCode, SupplierProfile } from './supplier.js';

/** The order's life cycle. A state may be skipped; an order never moves back. */
export const SUPPLIER_ORDER_STATES = [
  'CREATED',
  'SENT',
  'ACCEPTED',
  'IN_PRODUCTION',
  'SHIPPED',
  'RECEIVED',
] as const;
export const SupplierOrderState = z.enum([...SUPPLIER_ORDER_STATES, 'CANCELLED']);
export type SupplierOrderState = z.infer<typeof SupplierOrderState>;

/** What a supplier can tell us about an order; RECEIVED is the warehouse's to say. */
export const SupplierReportedState = z.enum(['ACCEPTED', 'IN_PRODUCTION', 'SHIPPED']);
export type SupplierReportedState = z.infer<typeof SupplierReportedState>;

/** Whether `to` moves the order forward from `from`; a cancelled or received order moves no more. */
export function isAdvance(from: SupplierOrderState, to: SupplierOrderState): boolean {
  if (from === 'CANCELLED' || from === 'RECEIVED') return false;
  if (to === 'CANCELLED') return true;
  return SUPPLIER_ORDER_STATES.indexOf(to) > SUPPLIER_ORDER_STATES.indexOf(from);
}

export function hasReached(state: SupplierOrderState, target: SupplierOrderState): boolean {
  return state === target || (state !== 'CANCELLED' && !isAdvance(state, target));
}

export const SUPPLIER_ORDER_STEPS = [
  'sendOrder',
  'awaitAcceptance',
  'awaitShipment',
  'awaitReceipt',
] as const;

export function supplierOrderFlowId(tenantSlug: string, orderId: string): string {
  return `supplier-order:${tenantSlug}:${orderId}`;
}

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

/** The order's state as recorded in the database after a webhook, a poll or a warehouse receipt. */
export interface SupplierStatusReport {
  state: SupplierOrderState;
  /** The supplier's promised ship date, when it gave one. */
  expectedShipAt?: string | null;
  source: 'webhook' | 'poll' | 'warehouse' | 'flow';
  /** The placement it is about (absent: the first); news of one given up (re-ordered elsewhere) is ignored. */
  round?: number;
}

export const supplierStatus = defineSignal<[SupplierStatusReport]>('supplierStatus');

/** What a supplier order tells the flow that started it (a project waiting on its goods). */
export interface SupplierOrderNews {
  orderId: string;
  flowId: string;
  news: 'shipped' | 'delayed' | 'reordered' | 'received';
  expectedShipAt?: string;
}
export const supplierOrderNews = defineSignal<[SupplierOrderNews]>('supplierOrderNews');

export interface SupplierOrderOutcome {
  orderId: string;
  state: 'RECEIVED';
  sentVia: 'api' | 'export';
  /** The supplier that delivered, and how many placements it took. */
  supplierCode: string;
  rounds: number;
}

/** An operator's re-order decision carries the next supplier, as the API looked it up. */
export const ReorderInput = z.object({ supplier: SupplierProfile });
