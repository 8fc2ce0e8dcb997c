import { type Kysely, sql } from 'kysely';
import type { Database, ShipmentItemAutomation } from './schema.js';

/** What staff and support read about shipments: the shipment, and its timeline across every source. */

export interface ShipmentView {
  shipmentId: string;
  orderId: string;
  state: string;
  address: { street: string; postcode: string; city: string; country: string };
  courierCode: string | null;
  trackingNumber: string | null;
  trackingUrl: string | null;
  courierTag: string | null;
  exception: string | null;
  items: { shipmentItemId: string; line: number; quantity: number; automation: ShipmentItemAutomation[] }[];
  createdAt: string;
  dispatchedAt: string | null;
  shippedAt: string | null;
  deliveredAt: string | null;
}

export async function findShipment(
  db: Kysely<Database>,
  tenantId: string,
  shipmentId: string,
): Promise<ShipmentView | undefined> {
  const shipment = await db
    .selectFrom('shipments')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', shipmentId)
    .executeTakeFirst();
  if (!shipment) return undefined;
  const items = await db
    .selectFrom('shipment_items')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('shipment_id', '=', shipmentId)
    .orderBy('position')
    .execute();
  return {
    shipmentId: shipment.id,
    orderId: shipment.order_id,
    state: shipment.state,
    address: shipment.address,
    courierCode: shipment.courier_code,
    trackingNumber: shipment.tracking_number,
    trackingUrl: shipment.tracking_url,
    courierTag: shipment.courier_tag,
    exception: shipment.exception,
    items: items.map((item) => ({
      shipmentItemId: item.id,
      line: item.position,
      quantity: item.quantity,
      automation: item.automation,
    })),
    createdAt: shipment.created_at.toISOString(),
    dispatchedAt: shipment.dispatched_at?.toISOString() ?? null,
    shippedAt: shipment.shipped_at?.toISOString() ?? null,
    deliveredAt: shipment.delivered_at?.toISOString() ?? null,
  };
}

export interface TimelineEntry {
  at: string;
  source: 'flowdesk' | 'courier' | 'automation';
  type: string;
  detail: Record<string, unknown>;
}

/**
 * One shipment's story in time order: its own events (built, dispatched, moved, delivered), every courier event
 * as it came (applied or ignored, and why), and its items' automation steps with each legacy call's correlation
 * id.
 */
export async function shipmentTimeline(
  db: Kysely<Database>,
  tenantId: string,
  shipmentId: string,
): Promise<TimelineEntry[] | undefined> {
  const shipment = await db
    .selectFrom('shipments')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('id', '=', shipmentId)
    .executeTakeFirst();
  if (!shipment) return undefined;
  const own = await db
    .selectFrom('domain_events')
    .select(['occurred_at', 'type', 'payload', 'actor'])
    .where('tenant_id', '=', tenantId)
    .where('entity_type', '=', 'shipment')
    .where('entity_id', '=', shipmentId)
    .execute();
  const courier = await db
    .selectFrom('courier_events')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('shipment_id', '=', shipmentId)
    .execute();
  const steps = await db
    .selectFrom('automation_steps')
    .innerJoin('shipment_items', (join) =>
      join.on(sql`automation_steps.shipment_item_id`, '=', sql`shipment_items.id::text`),
    )
    .select(['automation_steps.id', 'automation_steps.scenario', 'shipment_items.id as item'])
    .where('automation_steps.tenant_id', '=', tenantId)
    .where('shipment_items.shipment_id', '=', shipmentId)
    .execute();
  const automation =
    steps.length === 0
      ? []
      : await db
          .selectFrom('domain_events')
          .select(['occurred_at', 'type', 'payload', 'entity_id'])
          .where('tenant_id', '=', tenantId)
          .where('entity_type', '=', 'automation_step')
          .where(
            'entity_id',
            'in',
            steps.map((step) => step.id),
          )
          .execute();
  const stepOf = new Map(steps.map((step) => [step.id, step]));
  const entries: TimelineEntry[] = [
    ...own.map((event) => ({
      at: event.occurred_at.toISOString(),
      source: 'flowdesk' as const,
      type: event.type,
      detail: { ...event.payload, actor: event.actor },
    })),
    ...courier.map((event) => ({
      at: event.occurred_at.toISOString(),
      source: 'courier' as const,
      type: `courier.${event.tag}`,
      detail: {
        eventId: event.event_id,
        subtag: event.subtag,
        receivedAt: event.received_at.toISOString(),
        applied: event.applied,
        ignoredReason: event.ignored_reason,
      },
    })),
    ...automation.map((event) => ({
      at: event.occurred_at.toISOString(),
      source: 'automation' as const,
      type: event.type,
      detail: {
        stepId: event.entity_id,
        scenario: stepOf.get(event.entity_id)?.scenario,
        shipmentItemId: stepOf.get(event.entity_id)?.item,
        ...event.payload,
      },
    })),
  ];
  // At the same moment, the courier's news comes before what Flowdesk made of it.
  const rank = { courier: 0, flowdesk: 1, automation: 2 };
  return entries.sort((a, b) => a.at.localeCompare(b.at) || rank[a.source] - rank[b.source]);
}
