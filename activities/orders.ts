import { randomUUID } from 'node:crypto';
import { automationStepId, createAutomationStep, scenarioConfig } from '../db/automation.js';
import { appendEvent } from '../db/events.js';
import { closeOrder, deliverByHand, readFulfillment, startFulfillment } from '../db/shipments.js';
import { automationBusinessKey, automationStepFlow } from '../domain/automation.js';
import { type Actor, SYSTEM } from '../domain/flow.js';
import type { AutomationStart, FulfillmentView } from '../domain/order.js';
import { type EmailDeps, sendEmail } from './email.js';

export interface OrderDeps extends EmailDeps {
  opsEmail: string;
  companyName: string;
}

interface OrderRef {
  tenantId: string;
  tenantSlug: string;
  orderId: string;
  orderNumber: string;
  flowId: string;
}

export function orderActivities(deps: OrderDeps) {
  const { db } = deps;
  return {
    async startFulfillment(ref: OrderRef): Promise<void> {
      await startFulfillment(db, ref.tenantId, ref.orderId);
    },

    async readFulfillment(ref: OrderRef): Promise<FulfillmentView> {
      return readFulfillment(db, ref.tenantId, ref.orderId);
    },

    /**
     * The automation steps a delivered shipment's items start, one per item and scenario, each recorded (once) as
     * `pending` with the scenario's configuration of now; the order's flow starts them as child flows.
     */
    async prepareAutomationSteps(ref: OrderRef & { shipmentId: string }): Promise<AutomationStart[]> {
      const items = await db
        .selectFrom('shipment_items')
        .innerJoin('orders', 'orders.id', 'shipment_items.order_id')
        .innerJoin('companies', 'companies.id', 'orders.company_id')
        .select(['shipment_items.id', 'shipment_items.automation', 'companies.company_key'])
        .where('shipment_items.tenant_id', '=', ref.tenantId)
        .where('shipment_items.shipment_id', '=', ref.shipmentId)
        .execute();
      const starts: AutomationStart[] = [];
      for (const item of items)
        for (const { scenario, device } of item.automation) {
          const config = await scenarioConfig(db, ref.tenantId, scenario);
          const businessKey = automationBusinessKey(item.id, scenario);
          const workflowId = automationStepFlow.flowId(ref.tenantSlug, businessKey);
          if (!config) {
            // Removed after the shipment was built: ops see why nothing ran.
            await appendEvent(db, {
              tenantId: ref.tenantId,
              type: 'automation.step_not_started',
              actor: SYSTEM,
              entity: { type: 'shipment', id: ref.shipmentId },
              flowId: ref.flowId,
              payload: { shipmentItemId: item.id, scenario, reason: 'no such scenario is configured' },
              idempotencyKey: `${workflowId}/not-started`,
            });
            continue;
          }
          const fullDevice = { ...device, companyId: item.company_key };
          const stepId = (await automationStepId(db, ref.tenantId, item.id, scenario)) ?? randomUUID();
          await createAutomationStep(db, {
            id: stepId,
            tenantId: ref.tenantId,
            shipmentItemId: item.id,
            scenario,
            device: fullDevice,
            flowId: workflowId,
          });
          const recorded = (await automationStepId(db, ref.tenantId, item.id, scenario)) ?? stepId;
          starts.push({
            workflowId,
            input: {
              tenantId: ref.tenantId,
              tenantSlug: ref.tenantSlug,
              stepId: recorded,
              shipmentItemId: item.id,
              scenario,
              device: fullDevice,
              config,
            },
          });
        }
      return starts;
    },

    /** A courier exception, put before ops by email once (the flow's attention list has it too). */
    async reportCourierException(
      ref: OrderRef & { shipmentId: string; courierEventId: string; detail: string },
    ): Promise<void> {
      await sendEmail(deps, {
        tenantId: ref.tenantId,
        flowId: ref.flowId,
        idempotencyKey: `${ref.flowId}/courier-exception/${ref.courierEventId}`,
        template: 'shipment.exception',
        to: deps.opsEmail,
        subject: `Courier exception: order ${ref.orderNumber}, shipment ${ref.shipmentId}`,
        text: [
          `The courier reports ${ref.detail} for shipment ${ref.shipmentId} of order ${ref.orderNumber}.`,
          'Find out from the courier or the customer what happened, then on the order’s flow:',
          '- retry: the courier carries on, keep tracking;',
          '- fallback with a note: the shipment reached the customer (it is marked delivered);',
          `- or cancel the shipment (POST /v1/shipments/${ref.shipmentId}/cancel) if it never left, and ship again.`,
          '',
          deps.companyName,
        ].join('\n'),
      });
    },

    async deliverByHand(ref: OrderRef & { shipmentId: string; actor: Actor; note: string }): Promise<void> {
      await deliverByHand(db, ref);
    },

    async closeOrder(ref: OrderRef & { outcome: 'completed' | 'cancelled' }): Promise<void> {
      await closeOrder(db, { ...ref, actor: SYSTEM });
    },
  };
}

export type OrderActivities = ReturnType<typeof orderActivities>;
