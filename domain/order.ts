import { defineSignal } from '@temporalio/workflow';
import type { AutomationStepInput } from './automation.js';
import { defineFlow } from './flowDefinition.js';

/**
 * A hardware order's fulfillment as the workflow and its callers know it: steps, id, signals. It runs from paid
 * (or, on terms, confirmed) to completed. Schemas: `order.schema.ts`.
 */
export type { OrderFulfillmentInput } from './order.schema.js';

export const orderFulfillmentFlow = defineFlow()({
  type: 'orderFulfillment',
  idPrefix: 'order',
  steps: ['startFulfillment', 'shipAndDeliver', 'closeOrder'],
});

/** News that a shipment of the order changed (built, dispatched, moved by its courier, cancelled): ids only. */
export const shipmentChanged = defineSignal<[{ shipmentId: string; eventId: string }]>('shipmentChanged');

/** The order's fulfillment as its records show it. */
export interface FulfillmentView {
  /** Every item is shipped and every shipment delivered (or cancelled). */
  done: boolean;
  /** Delivered shipments, whose items' automation steps run once. */
  delivered: string[];
  /** Shipments whose courier reported an exception, with its event id (each one is put to a person once). */
  exceptions: { shipmentId: string; eventId: string; detail: string }[];
}

/** One automation step a delivered shipment item starts, as a child flow of the order. */
export interface AutomationStart {
  workflowId: string;
  input: AutomationStepInput;
}
