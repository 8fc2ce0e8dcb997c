import type { Kysely, Selectable } from 'kysely';
import type { Actor } from '../domain/flow.js';
import type { SupplierProfile } from '../domain/supplier.js';
import { isAdvance, type SupplierOrderLine, type SupplierOrderState } from '../domain/supplierOrder.js';
import { appendEvent } from './events.js';
import type { Database, SuppliersTable } from './schema.js';

export interface NewSupplierOrder {
  tenantId: string;
  orderKey: string;
  supplierId: string;
  flowId: string;
  lines: SupplierOrderLine[];
  deliverTo?: string;
}

/** The order and its lines, CREATED; written once per order key (a repeat writes nothing). */
export async function createSupplierOrderRecords(
  trx: Kysely<Database>,
  order: NewSupplierOrder,
): Promise<void> {
  const row = await trx
    .insertInto('supplier_orders')
    .values({
      tenant_id: order.tenantId,
      order_key: order.orderKey,
      supplier_id: order.supplierId,
      flow_id: order.flowId,
      state: 'CREATED',
      deliver_to: order.deliverTo ?? null,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'order_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) return;
  await trx
    .insertInto('supplier_order_lines')
    .values(order.lines.map((line, index) => ({ order_id: row.id, position: index + 1, ...line })))
    .execute();
}

export interface OrderEvent {
  /** After `supplier.order.`: `shipped`, `delayed`… */
  type: string;
  actor: Actor;
  payload: Record<string, unknown>;
  occurredAt?: Date;
  /** Tells apart events of one type that may happen more than once (each delivery note, each new date). */
  occurrence?: string;
}

/** Appends an event to an order's history, once per type (and occurrence); pass the write's transaction. */
export function appendOrderEvent(
  db: Kysely<Database>,
  order: { tenantId: string; orderKey: string; flowId: string },
  event: OrderEvent,
): Promise<void> {
  const type = `supplier.order.${event.type}`;
  return appendEvent(db, {
    tenantId: order.tenantId,
    type,
    actor: event.actor,
    entity: { type: 'supplier_order', id: order.orderKey },
    flowId: order.flowId,
    payload: event.payload,
    occurredAt: event.occurredAt,
    idempotencyKey: `${order.flowId}/${type}${event.occurrence ? `/${event.occurrence}` : ''}`,
  });
}

const STATE_COLUMN = {
  SENT: 'sent_at',
  ACCEPTED: 'accepted_at',
  IN_PRODUCTION: 'in_production_at',
  SHIPPED: 'shipped_at',
  RECEIVED: 'received_at',
  CANCELLED: 'cancelled_at',
} as const;

export interface OrderTransition {
  tenantId: string;
  orderKey: string;
  to: Exclude<SupplierOrderState, 'CREATED'>;
  actor: Actor;
  occurredAt: Date;
  expectedShipAt?: Date;
  /** What the audit event says besides the state (how it was sent, which delivery said so…). */
  detail?: Record<string, unknown>;
  /** Only for this round of the order: news about an order placed with an earlier supplier changes nothing. */
  round?: number;
}

export type TransitionResult = {
  applied: boolean;
  state: SupplierOrderState;
  round: number;
  flowId: string;
  expectedShipAt: string | null;
};

/** The order's row, locked until the transaction ends: decisions about one order are taken one at a time. */
function lockOrder(trx: Kysely<Database>, tenantId: string, orderKey: string) {
  return trx
    .selectFrom('supplier_orders')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('order_key', '=', orderKey)
    .forUpdate()
    .executeTakeFirst();
}

/** Tells apart the events of an order placed again with another supplier (round 2 on). */
export const roundOccurrence = (round: number) => (round > 1 ? `r${round}` : undefined);

/**
 * Moves an order forward, once: a state it has reached already, or one behind it, changes nothing and says what
 * the order's state is. The row is locked for the decision, so two deliveries racing apply one transition, and
 * the audit event is written in the same transaction.
 */
export async function advanceSupplierOrder(
  db: Kysely<Database>,
  transition: OrderTransition,
): Promise<TransitionResult | undefined> {
  return db.transaction().execute(async (trx) => {
    const order = await lockOrder(trx, transition.tenantId, transition.orderKey);
    if (!order) return undefined;
    const from = order.state as SupplierOrderState;
    const sameRound = transition.round === undefined || transition.round === order.round;
    if (!sameRound || !isAdvance(from, transition.to)) {
      return {
        applied: false,
        state: from,
        round: order.round,
        flowId: order.flow_id,
        expectedShipAt: order.expected_ship_at?.toISOString() ?? null,
      };
    }
    const expectedShipAt = transition.expectedShipAt ?? order.expected_ship_at;
    await trx
      .updateTable('supplier_orders')
      .set({
        state: transition.to,
        [STATE_COLUMN[transition.to]]: transition.occurredAt,
        expected_ship_at: expectedShipAt,
        updated_at: new Date(),
      })
      .where('id', '=', order.id)
      .execute();
    await appendOrderEvent(
      trx,
      { tenantId: transition.tenantId, orderKey: transition.orderKey, flowId: order.flow_id },
      {
        type: transition.to.toLowerCase(),
        actor: transition.actor,
        payload: {
          from,
          to: transition.to,
          expectedShipAt: expectedShipAt?.toISOString(),
          ...transition.detail,
        },
        occurredAt: transition.occurredAt,
        occurrence: roundOccurrence(order.round),
      },
    );
    return {
      applied: true,
      state: transition.to,
      round: order.round,
      flowId: order.flow_id,
      expectedShipAt: expectedShipAt?.toISOString() ?? null,
    };
  });
}

export interface SupplierSwitch {
  tenantId: string;
  orderKey: string;
  /** The round being given up: a repeated switch (a retried activity) finds it gone and changes nothing. */
  fromRound: number;
  toSupplierId: string;
  actor: Actor;
  detail: Record<string, unknown>;
}

/**
 * Places the order again with another supplier: the order starts over at CREATED in a new round, and the earlier
 * supplier's news no longer reaches it. Returns the new round.
 */
/** A supplier id that is not this tenant's. */
export class SupplierNotFound extends Error {}

export async function switchSupplier(db: Kysely<Database>, change: SupplierSwitch): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const order = await lockOrder(trx, change.tenantId, change.orderKey);
    if (!order) throw new Error(`no supplier order ${change.orderKey}`);
    if (order.round !== change.fromRound) return order.round;
    if (!(await tenantSupplier(trx, change.tenantId, change.toSupplierId)))
      throw new SupplierNotFound(`no supplier ${change.toSupplierId} in this tenant`);
    const round = order.round + 1;
    await trx
      .updateTable('supplier_orders')
      .set({
        supplier_id: change.toSupplierId,
        round,
        state: 'CREATED',
        sent_via: null,
        supplier_reference: null,
        expected_ship_at: null,
        sent_at: null,
        accepted_at: null,
        in_production_at: null,
        shipped_at: null,
        updated_at: new Date(),
      })
      .where('id', '=', order.id)
      .execute();
    await appendOrderEvent(
      trx,
      { tenantId: change.tenantId, orderKey: change.orderKey, flowId: order.flow_id },
      {
        type: 'reordered',
        actor: change.actor,
        payload: {
          fromSupplierId: order.supplier_id,
          toSupplierId: change.toSupplierId,
          round,
          ...change.detail,
        },
        occurrence: `r${round}`,
      },
    );
    return round;
  });
}

export interface ReceiptToRecord {
  tenantId: string;
  orderKey: string;
  /** The delivery note: a receipt is booked once per order and key. */
  receiptKey: string;
  lines: { sku: string; quantity: number }[];
  actor: Actor;
  receivedAt: Date;
}

export type RecordedReceipt =
  | {
      recorded: boolean;
      flowId: string;
      complete: boolean;
      lines: { sku: string; ordered: number; received: number }[];
      /** The order once the receipt's transitions are applied (what its flow is told). */
      order?: TransitionResult;
    }
  | { refused: 'unknown_order' }
  | { refused: 'not_open'; state: string }
  | { refused: 'unknown_sku'; sku: string }
  | { refused: 'over_received'; sku: string; ordered: number; received: number; quantity: number };

/**
 * Books goods in against an order, line by line. Goods arriving show the order shipped, whatever the supplier
 * said; the order is RECEIVED once every line is in. More than was ordered is refused, nothing booked.
 */
export async function recordReceipt(
  db: Kysely<Database>,
  receipt: ReceiptToRecord,
): Promise<RecordedReceipt> {
  const outcome = await db.transaction().execute(async (trx): Promise<RecordedReceipt> => {
    const order = await lockOrder(trx, receipt.tenantId, receipt.orderKey);
    if (!order) return { refused: 'unknown_order' };
    const lines = await trx
      .selectFrom('supplier_order_lines')
      .select(['sku', 'quantity', 'received_quantity'])
      .where('order_id', '=', order.id)
      .orderBy('position')
      .execute();
    const summary = () =>
      lines.map((line) => ({ sku: line.sku, ordered: line.quantity, received: line.received_quantity }));
    const complete = () => lines.every((line) => line.received_quantity >= line.quantity);
    const earlier = await trx
      .selectFrom('supplier_order_receipts')
      .select('id')
      .where('order_id', '=', order.id)
      .where('receipt_key', '=', receipt.receiptKey)
      .executeTakeFirst();
    if (earlier) return { recorded: false, flowId: order.flow_id, complete: complete(), lines: summary() };
    if (order.state === 'CANCELLED' || order.state === 'RECEIVED' || order.state === 'CREATED') {
      return { refused: 'not_open', state: order.state };
    }
    // Everything is checked before anything is written: a refused receipt books nothing.
    const adding = new Map<string, number>();
    for (const item of receipt.lines) adding.set(item.sku, (adding.get(item.sku) ?? 0) + item.quantity);
    for (const [sku, quantity] of adding) {
      const line = lines.find((l) => l.sku === sku);
      if (!line) return { refused: 'unknown_sku', sku };
      if (line.received_quantity + quantity > line.quantity) {
        return {
          refused: 'over_received',
          sku,
          ordered: line.quantity,
          received: line.received_quantity,
          quantity,
        };
      }
    }
    await trx
      .insertInto('supplier_order_receipts')
      .values({
        order_id: order.id,
        receipt_key: receipt.receiptKey,
        lines: JSON.stringify(receipt.lines),
        received_by: JSON.stringify(receipt.actor),
        received_at: receipt.receivedAt,
      })
      .execute();
    for (const line of lines) {
      const quantity = adding.get(line.sku);
      if (!quantity) continue;
      line.received_quantity += quantity;
      await trx
        .updateTable('supplier_order_lines')
        .set({ received_quantity: line.received_quantity })
        .where('order_id', '=', order.id)
        .where('sku', '=', line.sku)
        .execute();
    }
    await appendOrderEvent(
      trx,
      { tenantId: receipt.tenantId, orderKey: receipt.orderKey, flowId: order.flow_id },
      {
        type: 'goods_received',
        actor: receipt.actor,
        payload: { receiptKey: receipt.receiptKey, lines: receipt.lines },
        occurredAt: receipt.receivedAt,
        occurrence: receipt.receiptKey,
      },
    );
    return { recorded: true, flowId: order.flow_id, complete: complete(), lines: summary() };
  });
  if ('refused' in outcome) return outcome;
  // After the booking commits; a repeated booking (same delivery note) runs these again, so none is lost.
  const transition = {
    tenantId: receipt.tenantId,
    orderKey: receipt.orderKey,
    actor: receipt.actor,
    occurredAt: receipt.receivedAt,
  };
  const shipped = await advanceSupplierOrder(db, {
    ...transition,
    to: 'SHIPPED',
    detail: { source: 'warehouse' },
  });
  const received = outcome.complete
    ? await advanceSupplierOrder(db, { ...transition, to: 'RECEIVED', detail: { source: 'warehouse' } })
    : undefined;
  return { ...outcome, order: received ?? shipped };
}

/** What an order's flow knows of its supplier: everything but credentials and secrets. */
export function supplierProfile(row: Selectable<SuppliersTable>): SupplierProfile {
  return {
    supplierId: row.id,
    code: row.code,
    name: row.name,
    protocol: row.protocol as SupplierProfile['protocol'],
    orderEmail: row.order_email,
    capabilities: row.capabilities,
    pollEvery: row.poll_every as SupplierProfile['pollEvery'],
    leadTime: row.lead_time as SupplierProfile['leadTime'],
  };
}

/** A supplier of this tenant, by id; another tenant's is not found. */
export async function tenantSupplier(
  db: Kysely<Database>,
  tenantId: string,
  supplierId: string,
): Promise<Selectable<SuppliersTable> | undefined> {
  return db
    .selectFrom('suppliers')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', supplierId)
    .executeTakeFirst();
}
