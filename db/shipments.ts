import { type Kysely, sql } from 'kysely';
import type { Actor } from '../domain/flow.js';
import { SYSTEM } from '../domain/flow.js';
import type { FulfillmentView } from '../domain/order.js';
import type { Dispatch, NewShipment } from '../domain/order.schema.js';
import {
  movesForward,
  progressOf,
  type ShipmentProgress,
  type TrackingTag,
} from '../integrations/couriers/aftership.js';
import { scenarioConfig } from './automation.js';
import { trackingUrl } from './couriers.js';
import { appendEvent } from './events.js';
import { lockOrder } from './orders.js';
import type { Database } from './schema.js';

/**
 * Fulfillment and shipments: the one place they are written. Fulfillment items keep what is left to ship of each
 * order line; a shipment takes quantities from them (never more than is left), owns its destination as an address
 * snapshot, and moves `draft → ready → in_transit → delivered` (or is cancelled before it leaves, giving its
 * quantities back) as staff and its courier say. Courier news only moves a shipment forward; a repeated or late
 * one is kept, ignored, and logged.
 */

export type ShipmentState = 'draft' | 'ready' | 'in_transit' | 'delivered' | 'cancelled';
export type FulfillmentState =
  | 'ready_to_prepare'
  | 'awaiting_shipment'
  | 'in_transit'
  | 'completed'
  | 'cancelled';
const FULFILLMENT_RANK: Record<FulfillmentState, number> = {
  ready_to_prepare: 0,
  awaiting_shipment: 1,
  in_transit: 2,
  completed: 3,
  cancelled: 3,
};

type Change = { tenantId: string; actor: Actor; requestId: string };
type Row = { tenant_id: string; id: string; order_id: string };

const shipmentEvent = (
  trx: Kysely<Database>,
  shipment: Row,
  flowId: string | null,
  type: string,
  actor: Actor,
  payload: Record<string, unknown>,
  key: string,
  occurredAt?: Date,
) =>
  appendEvent(trx, {
    tenantId: shipment.tenant_id,
    type,
    actor,
    entity: { type: 'shipment', id: shipment.id },
    flowId,
    payload: { orderId: shipment.order_id, ...payload },
    occurredAt,
    idempotencyKey: `shipment/${shipment.id}/${key}`,
  });

const orderFlow = async (trx: Kysely<Database>, tenantId: string, orderId: string) =>
  (
    await trx
      .selectFrom('orders')
      .select('flow_id')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', orderId)
      .executeTakeFirstOrThrow()
  ).flow_id;

/** Opens fulfillment of a paid (or confirmed) order: one item per line, all of it left to ship. Idempotent. */
export async function startFulfillment(
  db: Kysely<Database>,
  tenantId: string,
  orderId: string,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('fulfillment_items')
      .columns(['tenant_id', 'order_id', 'position', 'quantity', 'remaining'])
      .expression(
        trx
          .selectFrom('order_lines')
          .select(['tenant_id', 'order_id', 'position', 'quantity', 'quantity as remaining'])
          .where('tenant_id', '=', tenantId)
          .where('order_id', '=', orderId),
      )
      .onConflict((oc) => oc.columns(['order_id', 'position']).doNothing())
      .execute();
    await moveFulfillment(trx, tenantId, orderId, SYSTEM);
  });
}

/**
 * Builds a draft shipment to one destination from quantities of the order's lines. More than is left of a line is
 * refused (`over_allocated`, naming the item) and nothing is written; so is an order not (yet) in fulfillment.
 */
export async function createShipment(
  db: Kysely<Database>,
  change: Change & { orderId: string; shipment: NewShipment },
): Promise<
  | { shipmentId: string }
  | { refused: 'not_found' | 'not_fulfilling' }
  | { conflict: { field: string; message: string } }
  | { invalid: { field: string; message: string } }
> {
  const { shipment } = change;
  return db
    .transaction()
    .execute(async (trx) => {
      const order = await trx
        .selectFrom('orders')
        .select(['id', 'company_id', 'flow_id', 'state', 'fulfillment_state'])
        .where('tenant_id', '=', change.tenantId)
        .where('id', '=', change.orderId)
        .forUpdate()
        .executeTakeFirst();
      if (!order) return { refused: 'not_found' as const };
      if (!order.fulfillment_state || ['completed', 'cancelled'].includes(order.fulfillment_state))
        return { refused: 'not_fulfilling' as const };
      const { destination } = shipment;
      let address = destination.address;
      if (destination.addressId) {
        const saved = await trx
          .selectFrom('company_addresses')
          .select(['street', 'postcode', 'city', 'country'])
          .where('tenant_id', '=', change.tenantId)
          .where('company_id', '=', order.company_id)
          .where('id', '=', destination.addressId)
          .executeTakeFirst();
        if (!saved)
          return {
            invalid: { field: 'body.destination.addressId', message: 'not an address of the company' },
          };
        address = saved;
      }
      if (!address) throw new Error('a destination has an address or an address id');
      if (destination.address && destination.saveAs)
        await trx
          .insertInto('company_addresses')
          .values({
            tenant_id: change.tenantId,
            company_id: order.company_id,
            label: destination.saveAs,
            ...destination.address,
          })
          .execute();
      const created = await trx
        .insertInto('shipments')
        .values({ tenant_id: change.tenantId, order_id: order.id, address: JSON.stringify(address) })
        .returning(['id', 'tenant_id', 'order_id'])
        .executeTakeFirstOrThrow();
      for (const [index, item] of shipment.items.entries()) {
        for (const [each, { scenario }] of item.automation.entries())
          if (!(await scenarioConfig(trx, change.tenantId, scenario)))
            throw new Refused({
              invalid: {
                field: `body.items.${index}.automation.${each}.scenario`,
                message: `no scenario ${scenario}: configure it first (PUT /v1/automation-scenarios/${scenario})`,
              },
            });
        const taken = await trx
          .updateTable('fulfillment_items')
          .set({ remaining: sql`remaining - ${item.quantity}` })
          .where('tenant_id', '=', change.tenantId)
          .where('order_id', '=', order.id)
          .where('position', '=', item.line)
          .where('remaining', '>=', item.quantity)
          .returning('remaining')
          .executeTakeFirst();
        if (!taken) {
          const left = await trx
            .selectFrom('fulfillment_items')
            .select('remaining')
            .where('tenant_id', '=', change.tenantId)
            .where('order_id', '=', order.id)
            .where('position', '=', item.line)
            .executeTakeFirst();
          // Nothing of this shipment may stay: the caller's transaction is rolled back.
          throw new Refused(
            left
              ? {
                  conflict: {
                    field: `body.items.${index}.quantity`,
                    message: `line ${item.line} has ${left.remaining} left to ship, not ${item.quantity}`,
                  },
                }
              : {
                  invalid: {
                    field: `body.items.${index}.line`,
                    message: `the order has no line ${item.line}`,
                  },
                },
          );
        }
        await trx
          .insertInto('shipment_items')
          .values({
            tenant_id: change.tenantId,
            shipment_id: created.id,
            order_id: order.id,
            position: item.line,
            quantity: item.quantity,
            automation: JSON.stringify(item.automation),
          })
          .execute();
      }
      await shipmentEvent(
        trx,
        created,
        order.flow_id,
        'shipment.created',
        change.actor,
        {
          address,
          items: shipment.items.map(({ line, quantity }) => ({ line, quantity })),
          savedToBook: destination.saveAs ?? null,
        },
        'created',
      );
      await moveFulfillment(trx, change.tenantId, order.id, change.actor);
      return { shipmentId: created.id };
    })
    .catch((error: unknown) => {
      if (error instanceof Refused) return error.answer;
      throw error;
    });
}

class Refused extends Error {
  constructor(
    readonly answer:
      | { conflict: { field: string; message: string } }
      | { invalid: { field: string; message: string } },
  ) {
    super('refused');
  }
}

const lockShipment = (trx: Kysely<Database>, tenantId: string, shipmentId: string) =>
  trx
    .selectFrom('shipments')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', shipmentId)
    .forUpdate()
    .executeTakeFirst();

/** Hands a draft shipment to its courier: the tracking number and the courier's tracking page. */
export async function dispatchShipment(
  db: Kysely<Database>,
  change: Change & { shipmentId: string; dispatch: Dispatch },
): Promise<
  | { flowId: string; eventId: string }
  | 'not_found'
  | { wrongState: string }
  | { invalid: { field: string; message: string } }
> {
  return db.transaction().execute(async (trx) => {
    const shipment = await lockShipment(trx, change.tenantId, change.shipmentId);
    if (!shipment) return 'not_found';
    const { dispatch } = change;
    const courier = await trx
      .selectFrom('couriers')
      .selectAll()
      .where('tenant_id', '=', change.tenantId)
      .where('code', '=', dispatch.courierCode)
      .executeTakeFirst();
    if (!courier)
      return {
        invalid: {
          field: 'body.courierCode',
          message: `no courier ${dispatch.courierCode}: see GET /v1/couriers`,
        },
      };
    const flowId = await orderFlow(trx, shipment.tenant_id, shipment.order_id);
    if (
      shipment.state === 'ready' &&
      shipment.tracking_number === dispatch.trackingNumber &&
      shipment.courier_code === dispatch.courierCode
    )
      return { flowId, eventId: 'dispatched' };
    if (shipment.state !== 'draft') return { wrongState: `the shipment is ${shipment.state}` };
    const taken = await trx
      .selectFrom('shipments')
      .select('id')
      .where('courier_code', '=', dispatch.courierCode)
      .where('tracking_number', '=', dispatch.trackingNumber)
      .executeTakeFirst();
    if (taken)
      return {
        invalid: { field: 'body.trackingNumber', message: 'another shipment has this tracking number' },
      };
    const url = trackingUrl({ trackingUrlTemplate: courier.tracking_url_template }, dispatch.trackingNumber);
    await trx
      .updateTable('shipments')
      .set({
        state: 'ready',
        courier_code: dispatch.courierCode,
        tracking_number: dispatch.trackingNumber,
        tracking_url: url,
        dispatched_at: new Date(),
        updated_at: new Date(),
      })
      .where('id', '=', shipment.id)
      .execute();
    await shipmentEvent(
      trx,
      shipment,
      flowId,
      'shipment.ready',
      change.actor,
      { ...dispatch, trackingUrl: url },
      'ready',
    );
    await moveFulfillment(trx, change.tenantId, shipment.order_id, change.actor);
    return { flowId, eventId: 'dispatched' };
  });
}

/** Cancels a shipment that has not left: its quantities are left to ship again. */
export async function cancelShipment(
  db: Kysely<Database>,
  change: Change & { shipmentId: string; reason: string },
): Promise<{ flowId: string; eventId: string } | 'not_found' | { wrongState: string }> {
  return db.transaction().execute(async (trx) => {
    const shipment = await lockShipment(trx, change.tenantId, change.shipmentId);
    if (!shipment) return 'not_found';
    const flowId = await orderFlow(trx, shipment.tenant_id, shipment.order_id);
    if (shipment.state === 'cancelled') return { flowId, eventId: 'cancelled' };
    if (shipment.state !== 'draft' && shipment.state !== 'ready')
      return { wrongState: `the shipment is ${shipment.state}: only one that has not left is cancelled` };
    await trx
      .updateTable('shipments')
      .set({ state: 'cancelled', updated_at: new Date() })
      .where('id', '=', shipment.id)
      .execute();
    const items = await trx
      .selectFrom('shipment_items')
      .select(['position', 'quantity'])
      .where('tenant_id', '=', change.tenantId)
      .where('shipment_id', '=', shipment.id)
      .execute();
    for (const item of items)
      await trx
        .updateTable('fulfillment_items')
        .set({ remaining: sql`remaining + ${item.quantity}` })
        .where('tenant_id', '=', change.tenantId)
        .where('order_id', '=', shipment.order_id)
        .where('position', '=', item.position)
        .execute();
    await shipmentEvent(
      trx,
      shipment,
      flowId,
      'shipment.cancelled',
      change.actor,
      { reason: change.reason, returned: items },
      'cancelled',
    );
    return { flowId, eventId: 'cancelled' };
  });
}

/** What the courier said, as its webhook or a poll reports it. */
export interface CourierNews {
  courierCode: string;
  trackingNumber: string;
  eventId: string;
  tag: TrackingTag;
  subtag?: string;
  occurredAt: Date;
  via: string;
}

export type CourierNewsOutcome =
  | { outcome: 'unknown_tracking' }
  | {
      outcome: 'duplicate' | 'ignored' | 'applied';
      tenantId: string;
      shipmentId: string;
      flowId: string;
      reason?: string;
    };

const progressNow = (shipment: { state: string; exception: string | null }): ShipmentProgress =>
  shipment.exception
    ? 'exception'
    : shipment.state === 'draft'
      ? 'ready'
      : (shipment.state as ShipmentProgress);

/**
 * Applies a courier's news once (by its event id): forward moves change the shipment (an `Exception` marks it
 * for a person); a repeated, older or late status is kept as ignored, with why.
 */
export async function applyCourierNews(db: Kysely<Database>, news: CourierNews): Promise<CourierNewsOutcome> {
  return db.transaction().execute(async (trx) => {
    const shipment = await trx
      .selectFrom('shipments')
      .selectAll()
      .where('courier_code', '=', news.courierCode)
      .where('tracking_number', '=', news.trackingNumber)
      .forUpdate()
      .executeTakeFirst();
    if (!shipment) return { outcome: 'unknown_tracking' };
    const flowId = await orderFlow(trx, shipment.tenant_id, shipment.order_id);
    const ref = { tenantId: shipment.tenant_id, shipmentId: shipment.id, flowId };
    const seen = await trx
      .selectFrom('courier_events')
      .select('id')
      .where('courier_code', '=', news.courierCode)
      .where('event_id', '=', news.eventId)
      .executeTakeFirst();
    if (seen) return { outcome: 'duplicate', ...ref };
    const from = progressNow(shipment);
    const to = progressOf(news.tag);
    const forward = shipment.state !== 'cancelled' && shipment.state !== 'draft' && movesForward(from, to);
    const reason = forward
      ? undefined
      : `${news.tag} after ${shipment.state === 'cancelled' ? 'cancellation' : from}: not forward`;
    await trx
      .insertInto('courier_events')
      .values({
        tenant_id: shipment.tenant_id,
        shipment_id: shipment.id,
        courier_code: news.courierCode,
        event_id: news.eventId,
        tag: news.tag,
        subtag: news.subtag ?? null,
        occurred_at: news.occurredAt,
        applied: forward,
        ignored_reason: reason ?? null,
      })
      .execute();
    if (!forward) return { outcome: 'ignored', ...ref, reason };
    const actor: Actor = { type: 'webhook', id: `${news.via}:${news.eventId}` };
    const exception = to === 'exception' ? `${news.tag}${news.subtag ? ` (${news.subtag})` : ''}` : null;
    const state: ShipmentState =
      to === 'exception' ? (shipment.state as ShipmentState) : to === 'ready' ? 'ready' : to;
    await trx
      .updateTable('shipments')
      .set({
        state,
        courier_tag: news.tag,
        exception,
        updated_at: new Date(),
        ...(state === 'in_transit' && !shipment.shipped_at ? { shipped_at: news.occurredAt } : {}),
        ...(state === 'delivered' ? { delivered_at: news.occurredAt } : {}),
      })
      .where('id', '=', shipment.id)
      .execute();
    await shipmentEvent(
      trx,
      shipment,
      flowId,
      exception ? 'shipment.exception' : `shipment.${state}`,
      actor,
      { tag: news.tag, subtag: news.subtag ?? null, courierEventId: news.eventId },
      `courier/${news.eventId}`,
      news.occurredAt,
    );
    await moveFulfillment(trx, shipment.tenant_id, shipment.order_id, actor);
    return { outcome: 'applied', ...ref };
  });
}

/** A person says a shipment reached its destination (after a courier exception, say). */
export async function deliverByHand(
  db: Kysely<Database>,
  change: { tenantId: string; shipmentId: string; actor: Actor; note: string },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const shipment = await lockShipment(trx, change.tenantId, change.shipmentId);
    if (!shipment || shipment.state === 'delivered' || shipment.state === 'cancelled') return;
    await trx
      .updateTable('shipments')
      .set({ state: 'delivered', exception: null, delivered_at: new Date(), updated_at: new Date() })
      .where('id', '=', shipment.id)
      .execute();
    const flowId = await orderFlow(trx, shipment.tenant_id, shipment.order_id);
    await shipmentEvent(
      trx,
      shipment,
      flowId,
      'shipment.delivered',
      change.actor,
      { byHand: true, note: change.note },
      'delivered-by-hand',
    );
    await moveFulfillment(trx, change.tenantId, shipment.order_id, change.actor);
  });
}

/**
 * The order's fulfillment state from its items and shipments, moved forward only: everything shipped and
 * delivered is `completed`; anything on its way `in_transit`; anything handed to a courier or being packed
 * `awaiting_shipment`.
 */
async function moveFulfillment(
  trx: Kysely<Database>,
  tenantId: string,
  orderId: string,
  actor: Actor,
): Promise<void> {
  const order = await trx
    .selectFrom('orders')
    .select(['number', 'flow_id', 'fulfillment_state', 'state'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', orderId)
    .executeTakeFirstOrThrow();
  const { remaining } = await trx
    .selectFrom('fulfillment_items')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('remaining'), sql<string>`0`).as('remaining'))
    .where('tenant_id', '=', tenantId)
    .where('order_id', '=', orderId)
    .executeTakeFirstOrThrow();
  const shipments = await trx
    .selectFrom('shipments')
    .select('state')
    .where('tenant_id', '=', tenantId)
    .where('order_id', '=', orderId)
    .execute();
  const live = shipments.filter((shipment) => shipment.state !== 'cancelled');
  const next: FulfillmentState =
    Number(remaining) === 0 && live.length > 0 && live.every((shipment) => shipment.state === 'delivered')
      ? 'completed'
      : live.some((shipment) => shipment.state === 'in_transit' || shipment.state === 'delivered')
        ? 'in_transit'
        : live.length > 0
          ? 'awaiting_shipment'
          : 'ready_to_prepare';
  const current = order.fulfillment_state as FulfillmentState | null;
  if (current && FULFILLMENT_RANK[next] <= FULFILLMENT_RANK[current]) return;
  await trx
    .updateTable('orders')
    .set({ fulfillment_state: next, updated_at: new Date() })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', orderId)
    .execute();
  await appendEvent(trx, {
    tenantId,
    type: `fulfillment.${next}`,
    actor,
    entity: { type: 'order', id: order.number },
    flowId: order.flow_id,
    payload: { from: current },
    idempotencyKey: `order/${tenantId}/${order.number}/fulfillment/${next}`,
  });
}

/** The order's fulfillment as its flow reads it. */
export async function readFulfillment(
  db: Kysely<Database>,
  tenantId: string,
  orderId: string,
): Promise<FulfillmentView> {
  const order = await db
    .selectFrom('orders')
    .select('fulfillment_state')
    .where('tenant_id', '=', tenantId)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', orderId)
    .executeTakeFirstOrThrow();
  const shipments = await db
    .selectFrom('shipments')
    .select(['id', 'state', 'exception'])
    .where('tenant_id', '=', tenantId)
    .where('tenant_id', '=', tenantId)
    .where('order_id', '=', orderId)
    .orderBy('created_at')
    .execute();
  const exceptions = [];
  for (const shipment of shipments.filter((each) => each.exception && each.state !== 'delivered')) {
    const last = await db
      .selectFrom('courier_events')
      .select('event_id')
      .where('tenant_id', '=', tenantId)
      .where('shipment_id', '=', shipment.id)
      .where('applied', '=', true)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    exceptions.push({ shipmentId: shipment.id, eventId: last.event_id, detail: shipment.exception ?? '' });
  }
  return {
    done: order.fulfillment_state === 'completed',
    delivered: shipments.filter((shipment) => shipment.state === 'delivered').map((shipment) => shipment.id),
    exceptions,
  };
}

/** What the order's invoice has been paid, less refunds (0 without an invoice). */
async function paidOn(trx: Kysely<Database>, order: { tenant_id: string; number: string }): Promise<number> {
  const invoice = await trx
    .selectFrom('invoices')
    .select(['paid', 'refunded'])
    .where('tenant_id', '=', order.tenant_id)
    .where('invoice_key', '=', order.number)
    .executeTakeFirst();
  return invoice ? Number(invoice.paid) - Number(invoice.refunded) : 0;
}

/** The order's end: completed once fulfilled, or cancelled (shipments that had not left are cancelled too). */
export async function closeOrder(
  db: Kysely<Database>,
  change: { tenantId: string; orderId: string; outcome: 'completed' | 'cancelled'; actor: Actor },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const order = await lockOrder(trx, change.tenantId, change.orderId);
    if (!order || order.state === change.outcome) return;
    const now = new Date();
    if (change.outcome === 'cancelled')
      await trx
        .updateTable('shipments')
        .set({ state: 'cancelled', updated_at: now })
        .where('tenant_id', '=', change.tenantId)
        .where('order_id', '=', order.id)
        .where('state', 'in', ['draft', 'ready'])
        .execute();
    await trx
      .updateTable('orders')
      .set({
        state: change.outcome,
        fulfillment_state:
          change.outcome === 'cancelled' && order.fulfillment_state !== 'completed'
            ? 'cancelled'
            : order.fulfillment_state,
        completed_at: change.outcome === 'completed' ? now : null,
        updated_at: now,
      })
      .where('id', '=', order.id)
      .execute();
    await appendEvent(trx, {
      tenantId: change.tenantId,
      type: `order.${change.outcome}`,
      actor: change.actor,
      entity: { type: 'order', id: order.number },
      flowId: order.flow_id,
      // A cancelled order that was paid is finance's to refund: the event says how much came in.
      payload: { paidAt: order.paid_at?.toISOString() ?? null, paid: await paidOn(trx, order) },
      idempotencyKey: `order/${change.tenantId}/${order.number}/${change.outcome}`,
    });
  });
}
