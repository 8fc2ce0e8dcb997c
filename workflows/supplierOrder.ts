import { msToNumber } from '@temporalio/common';
import {
  condition,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SupplierOrderActivities } from '../activities/supplierOrders.js';
import { SYSTEM } from '../domain/flow.js';
import {
  hasReached,
  isAdvance,
  SUPPLIER_ORDER_STEPS,
  type SupplierOrderInput,
  type SupplierOrderNews,
  type SupplierOrderOutcome,
  type SupplierOrderState,
  type SupplierStatusReport,
  supplierOrderNews,
  supplierStatus,
} from '../domain/supplierOrder.js';
import { describe, Flow } from './kernel/index.js';
import { stepActivityOptions } from './kernel/retry.js';

/**
 * A supplier order: send it (the supplier's API, or an emailed export a person confirms), follow it through
 * acceptance and production to shipment (webhooks, or polling), and book the goods in. An order that has not
 * shipped by its expected date is reported late and waits for a person: a new date, or cancellation (which
 * cancels with the supplier). A parent flow hears when the goods ship, run late and arrive.
 */
export async function supplierOrder(input: SupplierOrderInput): Promise<SupplierOrderOutcome> {
  const flow = new Flow({
    flowType: 'supplierOrder',
    businessKey: input.orderId,
    tenantId: input.tenantId,
    steps: SUPPLIER_ORDER_STEPS,
  });
  const suppliers = proxyActivities<SupplierOrderActivities>(stepActivityOptions(input.retry));
  // Records of what people decided must not be lost: they retry until the database takes them.
  const records = proxyActivities<SupplierOrderActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
  });
  // A poll that fails is not retried: the next period asks again.
  const polls = proxyActivities<SupplierOrderActivities>({
    startToCloseTimeout: input.retry.attemptTimeout,
    retry: { maximumAttempts: 1 },
  });
  const { supplier, orderId } = input;
  const flowId = workflowInfo().workflowId;
  const ref = { tenantId: input.tenantId, flowId, orderId, supplierId: supplier.supplierId };

  let state: SupplierOrderState = 'CREATED';
  /** The date the goods should ship by: the supplier's promise, else the lead time from sending. */
  let shipBy: number | undefined;
  /** Forward only: a repeated or older report changes nothing. */
  function learn(report: SupplierStatusReport): void {
    if (!isAdvance(state, report.state)) {
      log.info('supplier order report ignored', {
        orderId,
        state,
        reported: report.state,
        source: report.source,
      });
      return;
    }
    state = report.state;
    if (report.expectedShipAt) shipBy = Date.parse(report.expectedShipAt);
  }
  setHandler(supplierStatus, learn);
  const reached = (target: SupplierOrderState) => hasReached(state, target);
  const tellParent = (news: SupplierOrderNews['news'], expectedShipAt?: number) =>
    flow.notifyParent(supplierOrderNews, {
      orderId,
      flowId,
      news,
      expectedShipAt: expectedShipAt === undefined ? undefined : new Date(expectedShipAt).toISOString(),
    });

  flow.onCancel('cancelAtSupplier', async () => {
    const cancellation = { ...ref, reason: 'cancelled in Flowdesk' };
    try {
      await suppliers.cancelAtSupplier(cancellation);
    } catch {
      // The supplier's API kept failing: the cancellation goes by email instead of being lost.
      await records.cancelAtSupplier({ ...cancellation, byEmail: true });
    }
  });

  async function sendOrder(): Promise<'api' | 'export'> {
    const sentVia = await flow.step(
      'sendOrder',
      async (correction) => {
        let apiFailure: string | undefined;
        if (supplier.protocol === 'rest') {
          try {
            learn({ ...(await suppliers.submitOrder(ref)), source: 'flow' });
            return 'api' as const;
          } catch (error) {
            if (isCancellation(error)) throw error;
            apiFailure = describe(error);
          }
        }
        await suppliers.emailOrderExport({ ...ref, reason: apiFailure, resend: correction?.resend === true });
        return 'export' as const;
      },
      {
        confirm: (via) =>
          via === 'api'
            ? undefined
            : `the order was emailed to ${supplier.orderEmail}${supplier.protocol === 'rest' ? ` because ${supplier.name}'s API kept failing` : ''}; confirm the supplier has it (fallback, with a note)${supplier.protocol === 'rest' ? ', or retry the API' : ''}`,
      },
    );
    if (sentVia === 'export') {
      const confirmation = flow.stepNamed('sendOrder').resolvedBy;
      await records.confirmExportReceived({
        ...ref,
        actor: confirmation?.actor ?? SYSTEM,
        note: confirmation?.note,
      });
      learn({ state: 'SENT', source: 'flow' });
    }
    shipBy ??= Date.now() + msToNumber(supplier.leadTime);
    return sentVia;
  }

  /** Suppliers without webhooks are asked at their period until the goods ship. */
  async function pollUntilShipped(): Promise<void> {
    try {
      while (!reached('SHIPPED')) {
        if (await condition(() => reached('SHIPPED'), supplier.pollEvery)) return;
        try {
          learn({ ...(await polls.pollOrderStatus(ref)), source: 'poll' });
        } catch (error) {
          if (isCancellation(error)) throw error;
          log.warn('supplier status poll failed', { orderId, error: describe(error) });
        }
      }
    } catch (error) {
      // Cancelled with the flow: the flow itself handles the cancellation.
      if (!isCancellation(error)) throw error;
    }
  }

  /** Waits until the order reaches `target`; past the ship-by date, it is reported late and a person decides. */
  async function waitUntil(step: 'awaitAcceptance' | 'awaitShipment', target: SupplierOrderState) {
    await flow.waitFor(step, () => reached(target), {
      deadline: shipBy === undefined ? undefined : { at: shipBy },
      onDeadline: ['extend'],
      whenOverdue: async (deadlineAt) => {
        await suppliers.reportDelay({ ...ref, expectedShipAt: new Date(deadlineAt).toISOString() });
        await tellParent('delayed', deadlineAt);
      },
      whenExtended: async (deadlineAt, decision) => {
        shipBy = deadlineAt;
        await records.rescheduleShipment({
          ...ref,
          expectedShipAt: new Date(deadlineAt).toISOString(),
          actor: decision.actor,
          note: decision.note,
        });
      },
    });
  }

  return flow.run(async () => {
    const sentVia = await sendOrder();
    const polling =
      sentVia === 'api' && !supplier.capabilities.webhooks && supplier.capabilities.polling
        ? pollUntilShipped()
        : Promise.resolve();
    await waitUntil('awaitAcceptance', 'ACCEPTED');
    await waitUntil('awaitShipment', 'SHIPPED');
    await polling;
    await tellParent('shipped');
    await flow.waitFor('awaitReceipt', () => reached('RECEIVED'));
    await tellParent('received');
    return { orderId, state: 'RECEIVED', sentVia };
  });
}
