import { defineSignal } from '@temporalio/workflow';
import type { EmailRetryInput } from './flow.schema.js';
import { defineFlow } from './flowDefinition.js';
import type { ReorderInput } from './supplierOrder.schema.js';

/** Supplier orders as the workflow and its callers know them: states, steps, id, signals. Schemas: `*.schema.ts`. */
export type {
  StartSupplierOrder,
  SupplierOrderInput,
  SupplierOrderLine,
  SupplierReportedState,
} from './supplierOrder.schema.js';

/** The order's life cycle. A state may be skipped; an order never moves back. */
export const SUPPLIER_ORDER_STATES = [
  'CREATED',
  'SENT',
  'ACCEPTED',
  'IN_PRODUCTION',
  'SHIPPED',
  'RECEIVED',
] as const;
export type SupplierOrderState = (typeof SUPPLIER_ORDER_STATES)[number] | 'CANCELLED';

/** Whether `to` moves the order forward from `from`; a cancelled or received order moves no more. */
export function isAdvance(from: SupplierOrderState, to: SupplierOrderState): boolean {
  if (from === 'CANCELLED' || from === 'RECEIVED') return false;
  if (to === 'CANCELLED') return true;
  return SUPPLIER_ORDER_STATES.indexOf(to) > SUPPLIER_ORDER_STATES.indexOf(from);
}

export function hasReached(state: SupplierOrderState, target: SupplierOrderState): boolean {
  return state === target || (state !== 'CANCELLED' && !isAdvance(state, target));
}

/** `reorder`: a late order goes to another supplier (through its own route, which looks the supplier up). */
export const supplierOrderFlow = defineFlow<{ retry: EmailRetryInput; reorder: ReorderInput }>()({
  type: 'supplierOrder',
  idPrefix: 'supplier-order',
  steps: ['sendOrder', 'awaitAcceptance', 'awaitShipment', 'awaitReceipt'],
  decisions: ['reorder'],
});

export const supplierOrderFlowId = supplierOrderFlow.flowId;

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
  /** `rescheduled`: a person gave a late order a new ship date (`expectedShipAt`). */
  news: 'shipped' | 'delayed' | 'rescheduled' | 'reordered' | 'received';
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
