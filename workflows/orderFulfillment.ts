import {
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrderActivities } from '../activities/orders.js';
import {
  type FulfillmentView,
  type OrderFulfillmentInput,
  orderFulfillmentFlow,
  shipmentChanged,
} from '../domain/order.js';
import { automationStep } from './automationStep.js';
import { Flow } from './kernel/index.js';
import { outsideStepActivityOptions, readActivityOptions, stepActivityOptions } from './kernel/retry.js';

/**
 * A hardware order from paid to completed. Staff build shipments from what is left to ship, couriers move them;
 * each change is news, and the flow reads the order's fulfillment again. A delivered shipment starts its items'
 * automation steps (flows of their own, which outlive the order). A courier exception is put to a person: keep
 * tracking (`retry`), or say it arrived (`fallback` with a note). Once everything is delivered, the order is done.
 */
export async function orderFulfillment(input: OrderFulfillmentInput): Promise<{ state: 'completed' }> {
  const flow = new Flow(orderFulfillmentFlow, {
    businessKey: input.orderNumber,
    tenantId: input.tenantId,
    retry: input.retry,
  });
  const orders = proxyActivities<OrderActivities>(stepActivityOptions(input.retry));
  const records = proxyLocalActivities<OrderActivities>(readActivityOptions(input.retry));
  const closing = proxyActivities<OrderActivities>(outsideStepActivityOptions(input.retry));
  const ref = {
    tenantId: input.tenantId,
    tenantSlug: input.tenantSlug,
    orderId: input.orderId,
    orderNumber: input.orderNumber,
    flowId: workflowInfo().workflowId,
  };

  // The first read happens as the wait begins: news heard before the flow looked counts.
  let heard = 1;
  let acted = 0;
  setHandler(shipmentChanged, () => {
    heard++;
  });
  let fulfillment: FulfillmentView = { done: false, delivered: [], exceptions: [] };
  const automated = new Set<string>();
  /** Courier exceptions put to a person (by their courier event), and the questions still open beside the wait. */
  const asked = new Set<string>();
  const questions: Promise<void>[] = [];
  const whileShipping = <T>(run: () => Promise<T>) => flow.within('shipAndDeliver', run);

  flow.onCancel('cancelOrder', () => closing.closeOrder({ ...ref, outcome: 'cancelled' }));

  const startAutomation = async (shipmentId: string) => {
    const steps = await whileShipping(() => orders.prepareAutomationSteps({ ...ref, shipmentId }));
    for (const step of steps)
      await startChild(automationStep, {
        workflowId: step.workflowId,
        args: [step.input],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    automated.add(shipmentId);
  };

  /**
   * Asks a person about a courier exception while the wait goes on (other shipments keep moving). The question
   * ends with their decision, or once the facts say it is over: the courier moved on, or everything arrived.
   */
  const putExceptionToPerson = async (exception: FulfillmentView['exceptions'][number]) => {
    const stillOpen = () =>
      !fulfillment.done && fulfillment.exceptions.some((open) => open.eventId === exception.eventId);
    await whileShipping(() =>
      orders.reportCourierException({
        ...ref,
        shipmentId: exception.shipmentId,
        courierEventId: exception.eventId,
        detail: exception.detail,
      }),
    );
    const decision = await flow.needsAttention(
      flow.stepNamed('shipAndDeliver'),
      {
        reason: 'courier_exception',
        error: `shipment ${exception.shipmentId}: the courier reports ${exception.detail}`,
        options: ['retry', 'fallback'],
      },
      () => !stillOpen(),
    );
    if (decision?.action === 'fallback')
      await whileShipping(() =>
        orders.deliverByHand({
          ...ref,
          shipmentId: exception.shipmentId,
          actor: decision.actor,
          note: decision.note ?? 'delivered, as a person confirmed',
        }),
      );
    // What the person did changed the records: read them again.
    heard++;
    await flow.publishNow();
  };

  return flow.run(async () => {
    await flow.step('startFulfillment', () => orders.startFulfillment(ref));
    try {
      await flow.waitFor('shipAndDeliver', () => fulfillment.done, {
        news: () => heard !== acted,
        reread: async () => {
          acted = heard;
          fulfillment = await whileShipping(() => records.readFulfillment(ref));
          for (const shipmentId of fulfillment.delivered)
            if (!automated.has(shipmentId)) await startAutomation(shipmentId);
          for (const exception of fulfillment.exceptions) {
            if (asked.has(exception.eventId)) continue;
            asked.add(exception.eventId);
            questions.push(putExceptionToPerson(exception));
          }
        },
      });
    } finally {
      // Every question has ended with the wait (their facts are over); a cancelled flow's end with it.
      await Promise.allSettled(questions);
    }
    await flow.step('closeOrder', () => orders.closeOrder({ ...ref, outcome: 'completed' }));
    return { state: 'completed' };
  });
}
