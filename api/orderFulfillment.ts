import type { OrderToFulfil } from '../db/orders.js';
import { orderFulfillmentFlow } from '../domain/order.js';
import { OrderFulfillmentInput } from '../domain/order.schema.js';
import type { orderFulfillment } from '../workflows/orderFulfillment.js';
import type { ApiDeps } from './context.js';
import { startFlow } from './startFlow.js';

/**
 * Starts a paid (or confirmed) order's fulfillment, once per order, whoever asks first; on `taskQueue` when the
 * news came through another deployment's inbox.
 */
export function startOrderFulfillment(
  deps: Pick<ApiDeps, 'db' | 'temporal' | 'config'>,
  order: OrderToFulfil,
  taskQueue?: string,
) {
  return startFlow<typeof orderFulfillment>(deps, {
    definition: orderFulfillmentFlow,
    businessKey: order.orderNumber,
    tenantId: order.tenantId,
    tenantSlug: order.tenantSlug,
    title: `Order ${order.orderNumber}`,
    input: OrderFulfillmentInput.parse(order),
    taskQueue,
  });
}
