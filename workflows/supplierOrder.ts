import { msToNumber } from '@temporalio/common';
import {
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SupplierOrderActivities, Withdrawal } from '../activities/supplierOrders.js';
import { SYSTEM } from '../domain/flow.js';
import type { DecisionFor } from '../domain/flowDefinition.js';
import type { SupplierProfile } from '../domain/supplier.js';
import {
  hasReached,
  isAdvance,
  type SupplierOrderInput,
  type SupplierOrderNews,
  type SupplierOrderOutcome,
  type SupplierOrderState,
  type SupplierStatusReport,
  supplierOrderFlow,
  supplierOrderNews,
  supplierStatus,
} from '../domain/supplierOrder.js';
import { describe, Flow, resendDecision } from './kernel/index.js';

type OrderDecision = DecisionFor<typeof supplierOrderFlow>;

/** The id of the next supplier a re-order decision names; the flow loads its profile in its own tenant. */
function nextSupplierId(decision: OrderDecision): string | undefined {
  return decision.input && 'supplierId' in decision.input ? decision.input.supplierId : undefined;
}

import { stepActivityOptions } from './kernel/retry.js';

/**
 * A supplier order: send it (the supplier's API, or an emailed export a person confirms), follow it through
 * acceptance and production to shipment (webhooks, or polling), and book the goods in. An order that has not
 * shipped by its expected date is reported late and waits for a person: a new date, the same order from another
 * supplier, or cancellation (which withdraws it from the supplier). A parent flow hears when the goods ship, run
 * late, are re-ordered and arrive.
 */
export async function supplierOrder(input: SupplierOrderInput): Promise<SupplierOrderOutcome> {
  const flow = new Flow(supplierOrderFlow, {
    businessKey: input.orderId,
    tenantId: input.tenantId,
    retry: input.retry,
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
  const { orderId } = input;
  const flowId = workflowInfo().workflowId;

  let supplier: SupplierProfile = input.supplier;
  /** Each placement of the order (a re-order from another supplier starts the next) has its own life cycle. */
  let round = 1;
  let state: SupplierOrderState = 'CREATED';
  /** The date the goods should ship by: the supplier's promise, else the lead time from sending. */
  let shipBy: number | undefined;
  const ref = () => ({ tenantId: input.tenantId, flowId, orderId, supplierId: supplier.supplierId, round });

  /** Forward only: a repeated, older or given-up placement's report changes nothing. */
  function learn(report: SupplierStatusReport): void {
    if ((report.round ?? 1) !== round || !isAdvance(state, report.state)) {
      log.info('supplier order report ignored', { orderId, state, round, report });
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

  /**
   * Tells the supplier the order is withdrawn; when its API keeps failing, by email rather than not at all. An
   * email that may or may not have gone out (a worker died sending it) waits for a person: resend it, or confirm
   * the supplier has it. The withdrawal is never lost, and never fails the flow.
   */
  async function withdraw(reason?: string): Promise<Withdrawal> {
    try {
      return await suppliers.withdrawOrder({ ...ref(), reason });
    } catch {
      return flow.within(
        flow.currentStep ?? 'sendOrder',
        (retry) =>
          records.withdrawOrder({ ...ref(), reason, byEmail: true, resendDecision: resendDecision(retry) }),
        {
          manual: (decision) => ({
            via: 'email',
            reason: reason ?? decision.note ?? 'cancelled in Flowdesk',
          }),
        },
      );
    }
  }

  flow.onCancel('cancelAtSupplier', async () => {
    const withdrawal = await withdraw();
    await records.recordCancellation({ ...ref(), withdrawal });
  });

  async function sendOrder(): Promise<'api' | 'export'> {
    const sentVia = await flow.step(
      'sendOrder',
      async (retry) => {
        let apiFailure: string | undefined;
        if (supplier.protocol === 'rest') {
          try {
            learn({ ...(await suppliers.submitOrder(ref())), source: 'flow', round });
            return 'api' as const;
          } catch (error) {
            if (isCancellation(error)) throw error;
            apiFailure = describe(error);
          }
        }
        await suppliers.emailOrderExport({
          ...ref(),
          reason: apiFailure,
          resendDecision: resendDecision(retry),
        });
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
        ...ref(),
        actor: confirmation?.actor ?? SYSTEM,
        note: confirmation?.note,
      });
      learn({ state: 'SENT', source: 'flow', round });
    }
    shipBy ??= Date.now() + msToNumber(supplier.leadTime);
    return sentVia;
  }

  /** Suppliers without webhooks are asked at their period until the goods ship (or the order goes elsewhere). */
  async function pollUntilShipped(placement: number): Promise<void> {
    const done = () => reached('SHIPPED') || round !== placement;
    try {
      while (!done()) {
        if (await condition(done, supplier.pollEvery)) return;
        try {
          learn({ ...(await polls.pollOrderStatus(ref())), source: 'poll', round: placement });
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

  /**
   * Waits until the order reaches `target`. Past the ship-by date it is reported late and a person decides: a
   * new date (the wait goes on), or another supplier (returned to the caller).
   */
  async function waitUntil(
    step: 'awaitAcceptance' | 'awaitShipment',
    target: SupplierOrderState,
  ): Promise<OrderDecision | undefined> {
    const outcome = await flow.waitFor(step, () => reached(target), {
      deadline: shipBy === undefined ? undefined : { at: shipBy },
      onDeadline: ['extend', 'reorder'],
      whenOverdue: async (deadlineAt) => {
        await suppliers.reportDelay({ ...ref(), expectedShipAt: new Date(deadlineAt).toISOString() });
        await tellParent('delayed', deadlineAt);
      },
      whenExtended: async (deadlineAt, decision) => {
        shipBy = deadlineAt;
        await records.rescheduleShipment({
          ...ref(),
          expectedShipAt: new Date(deadlineAt).toISOString(),
          actor: decision.actor,
          note: decision.note,
        });
        // A project waiting on the goods weighs the new date against its installation (patched in: flows of
        // earlier code did not tell their parent).
        if (patched('tell-parent-rescheduled')) await tellParent('rescheduled', deadlineAt);
      },
      checkDecision: (decision) => {
        if (decision.action !== 'reorder') return undefined;
        const next = nextSupplierId(decision);
        if (!next) return 'reorder needs the next supplier: POST /v1/supplier-orders/{orderId}/reorder';
        if (next === supplier.supplierId) return `the order is with ${supplier.code} already`;
        return undefined;
      },
    });
    return outcome.done ? undefined : outcome.decision;
  }

  /** Withdraws the order from this supplier and places it with the next one, from the start. */
  async function reorder(decision: OrderDecision): Promise<void> {
    const nextId = nextSupplierId(decision);
    if (!nextId) throw new Error('a reorder decision without the next supplier passed its check');
    // Loaded in this flow's tenant: a supplier of another tenant is not found, nothing is withdrawn, and the
    // step waits for a person.
    const next = await flow.within(flow.currentStep ?? 'awaitShipment', () =>
      records.loadSupplier({ tenantId: input.tenantId, supplierId: nextId }),
    );
    const withdrawal = await withdraw(`re-ordered from ${next.name}`);
    round = await records.reorderFrom({
      ...ref(),
      toSupplierId: next.supplierId,
      withdrawal,
      actor: decision.actor,
      note: decision.note,
    });
    supplier = next;
    state = 'CREATED';
    shipBy = undefined;
    await tellParent('reordered');
  }

  return flow.run(async () => {
    for (;;) {
      const sentVia = await sendOrder();
      const polling =
        sentVia === 'api' && !supplier.capabilities.webhooks && supplier.capabilities.polling
          ? pollUntilShipped(round)
          : Promise.resolve();
      const elsewhere =
        (await waitUntil('awaitAcceptance', 'ACCEPTED')) ?? (await waitUntil('awaitShipment', 'SHIPPED'));
      if (elsewhere) {
        await reorder(elsewhere);
        await polling;
        continue;
      }
      await polling;
      await tellParent('shipped');
      await flow.waitFor('awaitReceipt', () => reached('RECEIVED'));
      await tellParent('received');
      return { orderId, state: 'RECEIVED', sentVia, supplierCode: supplier.code, rounds: round };
    }
  });
}
