import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import {
  advanceSupplierOrder,
  appendOrderEvent,
  roundOccurrence,
  supplierProfile,
  switchSupplier,
  tenantSupplier,
} from '../db/supplierOrders.js';
import { type Actor, SYSTEM } from '../domain/flow.js';
import type { SupplierProfile } from '../domain/supplier.js';
import type { SupplierOrderState } from '../domain/supplierOrder.js';
import type { AddressPolicy } from '../integrations/outbound/address.js';
import { orderCsv, orderDocument } from '../integrations/suppliers/export.js';
import { type RemoteOrder, reportedState } from '../integrations/suppliers/protocol.js';
import { SupplierApiError, supplierApi } from '../integrations/suppliers/rest.js';
import type { SecretBox } from '../runtime/secretBox.js';
import { type EmailDeps, emailSent, sendEmail } from './email.js';

export interface SupplierOrderDeps extends EmailDeps {
  publicUrl: string;
  companyName: string;
  /** Where notices for people go (a delayed order). */
  opsEmail: string;
  /** Opens the supplier's stored credentials, here and nowhere else in the worker. */
  secrets: SecretBox;
  /** Which addresses a supplier's API may have. */
  addressPolicy: AddressPolicy;
}

export interface OrderRef {
  tenantId: string;
  flowId: string;
  orderId: string;
  supplierId: string;
  /** Which placement of the order: 1, then 2… after re-ordering from another supplier. */
  round: number;
}

/** How a supplier was told that an order is withdrawn. */
export interface Withdrawal {
  via: 'api' | 'email' | 'none';
  reason: string;
  apiRefusal?: string;
}

export interface OrderStatus {
  state: SupplierOrderState;
  expectedShipAt: string | null;
}

const orderRef = (ref: OrderRef) => ({ tenantId: ref.tenantId, orderKey: ref.orderId, flowId: ref.flowId });

/** An idempotency key of this placement of the order: the first keeps the plain form. */
const keyOf = (ref: OrderRef, purpose: string) =>
  [ref.flowId, purpose, roundOccurrence(ref.round)].filter(Boolean).join('/');

function asFailure(error: unknown): never {
  if (error instanceof SupplierApiError) {
    throw ApplicationFailure.create({
      type: error.retryable ? 'SupplierUnavailable' : 'SupplierRefused',
      message: error.message,
      nonRetryable: !error.retryable,
    });
  }
  throw error;
}

function shipDate(order: RemoteOrder): Date | undefined {
  if (!order.expectedShipDate) return undefined;
  const date = new Date(order.expectedShipDate);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

export function supplierOrderActivities(deps: SupplierOrderDeps) {
  const { db } = deps;

  async function orderOf(ref: Pick<OrderRef, 'tenantId' | 'orderId'>) {
    const order = await db
      .selectFrom('supplier_orders')
      .selectAll()
      .where('tenant_id', '=', ref.tenantId)
      .where('order_key', '=', ref.orderId)
      .executeTakeFirst();
    if (!order) throw ApplicationFailure.nonRetryable(`no supplier order ${ref.orderId}`, 'InvalidInput');
    const lines = await db
      .selectFrom('supplier_order_lines')
      .select(['sku', 'description', 'quantity'])
      .where('order_id', '=', order.id)
      .orderBy('position')
      .execute();
    return { ...order, lines };
  }

  async function supplierOf(ref: Pick<OrderRef, 'tenantId' | 'supplierId'>) {
    const supplier = await db
      .selectFrom('suppliers')
      .selectAll()
      .where('tenant_id', '=', ref.tenantId)
      .where('id', '=', ref.supplierId)
      .executeTakeFirst();
    if (!supplier) throw ApplicationFailure.nonRetryable(`no supplier ${ref.supplierId}`, 'InvalidInput');
    return supplier;
  }

  /** Temporal's cancellation carries no reason; the person's is on record with their request. */
  async function cancellationReason(ref: OrderRef): Promise<string> {
    const requested = await db
      .selectFrom('domain_events')
      .select('payload')
      .where('tenant_id', '=', ref.tenantId)
      .where('flow_id', '=', ref.flowId)
      .where('type', '=', 'flow.cancel.requested')
      .orderBy('position', 'desc')
      .limit(1)
      .executeTakeFirst();
    return typeof requested?.payload.reason === 'string' ? requested.payload.reason : 'cancelled in Flowdesk';
  }

  async function apiOf(ref: OrderRef) {
    const supplier = await supplierOf(ref);
    if (supplier.protocol !== 'rest' || !supplier.base_url) {
      throw ApplicationFailure.nonRetryable(`${supplier.code} has no API`, 'ConfigurationError');
    }
    const credentials = supplier.credentials === null ? null : deps.secrets.open(supplier.credentials);
    return {
      supplier,
      api: supplierApi({ baseUrl: supplier.base_url, credentials, policy: deps.addressPolicy }),
    };
  }

  /** Applies what the supplier says of the order, forward only, and answers with the order's state. */
  async function applyRemote(
    ref: OrderRef,
    remote: RemoteOrder,
    source: 'api' | 'poll',
  ): Promise<OrderStatus> {
    const to = reportedState(remote.status);
    const result = to
      ? await advanceSupplierOrder(db, {
          tenantId: ref.tenantId,
          orderKey: ref.orderId,
          to,
          actor: SYSTEM,
          occurredAt: new Date(),
          expectedShipAt: shipDate(remote),
          detail: { source, supplierReference: remote.id },
          round: ref.round,
        })
      : undefined;
    if (result) return { state: result.state, expectedShipAt: result.expectedShipAt };
    const order = await orderOf(ref);
    return {
      state: order.state as SupplierOrderState,
      expectedShipAt: order.expected_ship_at?.toISOString() ?? null,
    };
  }

  async function markSent(
    ref: OrderRef,
    via: 'api' | 'export',
    actor: Actor,
    detail: Record<string, unknown>,
  ) {
    await advanceSupplierOrder(db, {
      tenantId: ref.tenantId,
      orderKey: ref.orderId,
      to: 'SENT',
      actor,
      occurredAt: new Date(),
      detail: { via, ...detail },
      round: ref.round,
    });
    await db
      .updateTable('supplier_orders')
      .set({ sent_via: via, updated_at: new Date() })
      .where('tenant_id', '=', ref.tenantId)
      .where('order_key', '=', ref.orderId)
      .where('round', '=', ref.round)
      .execute();
  }

  return {
    /**
     * Places the order through the supplier's API. The Idempotency-Key is the flow's, so a retry after a lost
     * answer finds the order the supplier already took instead of placing a second one.
     */
    async submitOrder(ref: OrderRef): Promise<OrderStatus> {
      const { supplier, api } = await apiOf(ref);
      const order = await orderOf(ref);
      const capabilities = supplier.capabilities;
      const remote = await api
        .placeOrder(
          {
            reference: ref.orderId,
            lines: order.lines,
            deliverTo: order.deliver_to ?? undefined,
            callbackUrl: capabilities.webhooks
              ? `${deps.publicUrl}/webhooks/suppliers/${supplier.id}`
              : undefined,
          },
          keyOf(ref, 'place-order'),
        )
        .catch(asFailure);
      await db
        .updateTable('supplier_orders')
        .set({ supplier_reference: remote.id, updated_at: new Date() })
        .where('id', '=', order.id)
        .where('round', '=', ref.round)
        .execute();
      await markSent(ref, 'api', SYSTEM, { supplierReference: remote.id });
      return applyRemote(ref, remote, 'api');
    },

    /**
     * Emails the order to the supplier as a CSV of its lines and a readable document, once per order. When the
     * supplier says it never got an export that did go out, an operator's resend emails it once more: once per
     * decision, under a key of that decision's own.
     */
    async emailOrderExport(ref: OrderRef & { reason?: string; resendDecision?: string }): Promise<void> {
      const exportKey = keyOf(ref, 'order-export');
      const again = ref.resendDecision !== undefined && (await emailSent(db, ref.tenantId, exportKey));
      const supplier = await supplierOf(ref);
      const order = await orderOf(ref);
      const content = {
        orderId: ref.orderId,
        buyer: deps.companyName,
        supplierName: supplier.name,
        deliverTo: order.deliver_to ?? undefined,
        lines: order.lines,
      };
      const files = [
        {
          filename: `order-${ref.orderId}.csv`,
          contentType: 'text/csv',
          content: Buffer.from(orderCsv(content)),
        },
        {
          filename: `order-${ref.orderId}.html`,
          contentType: 'text/html',
          content: Buffer.from(orderDocument(content)),
        },
      ];
      for (const [index, file] of files.entries()) {
        await db
          .insertInto('documents')
          .values({
            tenant_id: ref.tenantId,
            kind: `supplier-order-export-${index === 0 ? 'csv' : 'document'}`,
            entity_id: ref.orderId,
            version: ref.round,
            filename: file.filename,
            content_type: file.contentType,
            content: file.content,
            sha256: createHash('sha256').update(file.content).digest('hex'),
          })
          .onConflict((oc) => oc.columns(['tenant_id', 'kind', 'entity_id', 'version']).doNothing())
          .execute();
      }
      await sendEmail(deps, {
        tenantId: ref.tenantId,
        flowId: ref.flowId,
        idempotencyKey: again ? `${exportKey}/again/${ref.resendDecision}` : exportKey,
        template: 'supplier.order-export',
        resendDecision: ref.resendDecision,
        to: supplier.order_email,
        subject: `Purchase order ${ref.orderId} from ${deps.companyName}`,
        text: [
          `Hello ${supplier.name},`,
          '',
          `please find attached our purchase order ${ref.orderId} (${order.lines.length} lines): a CSV of the lines and a printable copy.`,
          'Please confirm that you received it by replying to this email.',
          '',
          deps.companyName,
        ].join('\n'),
        attachments: files,
      });
      await appendOrderEvent(db, orderRef(ref), {
        type: 'exported',
        actor: SYSTEM,
        payload: { to: supplier.order_email, reason: ref.reason, again: again || undefined },
        // Each copy sent again is an event of its own, named by the decision that sent it.
        occurrence: again
          ? `${roundOccurrence(ref.round) ?? 'r1'}/again/${ref.resendDecision}`
          : roundOccurrence(ref.round),
      });
    },

    /** An operator confirmed that the supplier has the emailed order. */
    async confirmExportReceived(ref: OrderRef & { actor: Actor; note?: string }): Promise<void> {
      await markSent(ref, 'export', ref.actor, { note: ref.note });
    },

    /** Asks the supplier where the order is, for suppliers without webhooks. */
    async pollOrderStatus(ref: OrderRef): Promise<OrderStatus> {
      const { api } = await apiOf(ref);
      const order = await orderOf(ref);
      if (!order.supplier_reference)
        return { state: order.state as SupplierOrderState, expectedShipAt: null };
      const remote = await api.getOrder(order.supplier_reference).catch(asFailure);
      return applyRemote(ref, remote, 'poll');
    },

    /** The expected ship date passed without a shipment: on record once per date, and the people who decide are told. */
    async reportDelay(ref: OrderRef & { expectedShipAt: string }): Promise<void> {
      const supplier = await supplierOf(ref);
      await appendOrderEvent(db, orderRef(ref), {
        type: 'delayed',
        actor: SYSTEM,
        payload: { supplier: supplier.code, expectedShipAt: ref.expectedShipAt },
        occurrence: ref.expectedShipAt,
      });
      await sendEmail(deps, {
        tenantId: ref.tenantId,
        flowId: ref.flowId,
        idempotencyKey: `${ref.flowId}/delay-notice/${ref.expectedShipAt}`,
        template: 'supplier.order-delayed',
        to: deps.opsEmail,
        subject: `Supplier order ${ref.orderId} is late`,
        text: [
          `${supplier.name} was expected to ship order ${ref.orderId} by ${ref.expectedShipAt.slice(0, 10)}, and has not.`,
          '',
          'Decide in Flowdesk: accept a new date, cancel the order, or order from another supplier.',
          `${deps.publicUrl}/v1/flows/${encodeURIComponent(ref.flowId)}`,
        ].join('\n'),
      });
    },

    /** Someone accepted a new ship date for a late order. */
    async rescheduleShipment(
      ref: OrderRef & { expectedShipAt: string; actor: Actor; note?: string },
    ): Promise<void> {
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('supplier_orders')
          .set({ expected_ship_at: new Date(ref.expectedShipAt), updated_at: new Date() })
          .where('tenant_id', '=', ref.tenantId)
          .where('order_key', '=', ref.orderId)
          .execute();
        await appendOrderEvent(trx, orderRef(ref), {
          type: 'rescheduled',
          actor: ref.actor,
          payload: { expectedShipAt: ref.expectedShipAt, note: ref.note },
          occurrence: ref.expectedShipAt,
        });
      });
    },

    /**
     * Withdraws the order from its supplier: through the supplier's API when it has a cancellation, otherwise by
     * email; with `byEmail` (the API kept failing) the email goes in any case. Says which, for the audit trail.
     * An order never sent needs no word, and goods already shipped are not cancelled here: that is a return.
     */
    async withdrawOrder(
      ref: OrderRef & { reason?: string; byEmail?: boolean; resendDecision?: string },
    ): Promise<Withdrawal> {
      const order = await orderOf(ref);
      const reason = ref.reason ?? (await cancellationReason(ref));
      if (
        order.round !== ref.round ||
        ['CREATED', 'CANCELLED', 'SHIPPED', 'RECEIVED'].includes(order.state)
      ) {
        return { via: 'none', reason };
      }
      const supplier = await supplierOf(ref);
      const cancellable = supplier.protocol === 'rest' && supplier.capabilities.cancellation;
      let apiRefusal: string | undefined;
      if (cancellable && order.supplier_reference && !ref.byEmail) {
        const { api } = await apiOf(ref);
        try {
          await api.cancelOrder(order.supplier_reference, keyOf(ref, 'cancel-order'));
          return { via: 'api', reason };
        } catch (error) {
          // Refused for good (not merely unavailable): the supplier still hears of it, by email.
          if (!(error instanceof SupplierApiError) || error.retryable) asFailure(error);
          apiRefusal = error.message;
        }
      }
      await sendEmail(deps, {
        tenantId: ref.tenantId,
        flowId: ref.flowId,
        idempotencyKey: keyOf(ref, 'order-cancellation'),
        template: 'supplier.order-cancellation',
        resendDecision: ref.resendDecision,
        to: supplier.order_email,
        subject: `Cancellation of purchase order ${ref.orderId}`,
        text: [
          `Hello ${supplier.name},`,
          '',
          `we cancel our purchase order ${ref.orderId}${order.supplier_reference ? ` (your reference ${order.supplier_reference})` : ''}.`,
          `Reason: ${reason}`,
          'Please confirm by replying to this email.',
          '',
          deps.companyName,
        ].join('\n'),
      });
      return { via: 'email', reason, apiRefusal };
    },

    /** The order is cancelled, with how its supplier was told. */
    async recordCancellation(ref: OrderRef & { withdrawal: Withdrawal }): Promise<void> {
      await advanceSupplierOrder(db, {
        tenantId: ref.tenantId,
        orderKey: ref.orderId,
        to: 'CANCELLED',
        actor: SYSTEM,
        occurredAt: new Date(),
        detail: { ...ref.withdrawal },
      });
    },

    /** Moves the order to another supplier, withdrawn from this one; returns the order's new round. */
    /** A supplier of the tenant by id, as its orders' flows know it; another tenant's is refused. */
    async loadSupplier(ref: { tenantId: string; supplierId: string }): Promise<SupplierProfile> {
      const row = await tenantSupplier(db, ref.tenantId, ref.supplierId);
      if (!row)
        throw ApplicationFailure.nonRetryable(`no supplier ${ref.supplierId} in this tenant`, 'InvalidInput');
      return supplierProfile(row);
    },

    async reorderFrom(
      ref: OrderRef & { toSupplierId: string; withdrawal: Withdrawal; actor: Actor; note?: string },
    ): Promise<number> {
      return switchSupplier(db, {
        tenantId: ref.tenantId,
        orderKey: ref.orderId,
        fromRound: ref.round,
        toSupplierId: ref.toSupplierId,
        actor: ref.actor,
        detail: { withdrawal: ref.withdrawal, note: ref.note },
      });
    },
  };
}

export type SupplierOrderActivities = ReturnType<typeof supplierOrderActivities>;
