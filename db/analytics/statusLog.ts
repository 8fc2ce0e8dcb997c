import { sql } from 'kysely';
import type { Db } from '../client.js';

/**
 * The status log: every status an order entered, once per (source, order, status, changed-at), whatever order
 * the deliveries came in. Figures are computed from it (db/analytics/figures.ts), so a late event is placed by its
 * time with no special case, and a status entered again later is a new row. Each new event is announced on
 * PostgreSQL's `status_events` channel, in the same transaction, so every API process's stream hears it once it is
 * committed, and never before.
 */

export const STATUS_CHANNEL = 'status_events';

export interface StatusEvent {
  orderId: string;
  statusId: string;
  /** The group the delivery named, used while the status is not in the source's dictionary. */
  groupHint?: string | null;
  changedAt: Date;
  orderCreatedAt?: Date | null;
}

/** What a stream subscriber hears: an order of a source changed (`order_updated`), or all figures did. */
export type StatusNotice =
  | {
      kind: 'order_updated';
      /** The status event's id, a stream's event id to resume from; none when the order changed otherwise. */
      id?: string;
      tenantId: string;
      sourceId: string;
      /** The analytics order (GET /v1/analytics/orders/{orderId}/timeline). */
      orderId: string;
      externalOrderId: string;
      statusId: string | null;
    }
  | { kind: 'invalidate'; tenantId: string; sourceId: string; reason: string };

export async function recordStatusEvents(
  db: Db,
  input: { tenantId: string; sourceId: string; events: readonly StatusEvent[] },
): Promise<{ recorded: number; duplicates: number }> {
  if (input.events.length === 0) return { recorded: 0, duplicates: 0 };
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('status_events')
      .values(
        input.events.map((event) => ({
          tenant_id: input.tenantId,
          source_id: input.sourceId,
          order_id: event.orderId,
          status_id: event.statusId,
          group_hint: event.groupHint ?? null,
          status_changed_at: event.changedAt,
        })),
      )
      .onConflict((oc) => oc.columns(['source_id', 'order_id', 'status_id', 'status_changed_at']).doNothing())
      .returning(['id', 'order_id', 'status_id'])
      .execute();
    if (inserted.length === 0) return { recorded: 0, duplicates: input.events.length };

    const orders = new Map<string, Date | null>();
    for (const event of input.events)
      if (inserted.some((row) => row.order_id === event.orderId))
        orders.set(event.orderId, event.orderCreatedAt ?? orders.get(event.orderId) ?? null);
    const orderRows = await trx
      .insertInto('analytics_orders')
      .values(
        [...orders].map(([orderId, createdAt]) => ({
          tenant_id: input.tenantId,
          source_id: input.sourceId,
          order_id: orderId,
          created_in_source_at: createdAt,
        })),
      )
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'source_id', 'order_id']).doUpdateSet({
          updated_at: sql`now()`,
          created_in_source_at: sql`coalesce(analytics_orders.created_in_source_at, excluded.created_in_source_at)`,
        }),
      )
      .returning(['id', 'order_id'])
      .execute();
    const analyticsId = new Map(orderRows.map((row) => [row.order_id, row.id]));

    // A status the dictionary does not know yet asks for the dictionary to be fetched again.
    await sql`
      update status_sources set statuses_refreshed_at = null
      where id = ${input.sourceId} and kind = 'keycrm' and statuses_refreshed_at is not null
        and exists (
          select 1 from unnest(${inserted.map((row) => row.status_id)}::text[]) as s (status_id)
          where not exists (
            select 1 from source_statuses d
            where d.tenant_id = ${input.tenantId} and d.source_id = ${input.sourceId} and d.status_id = s.status_id))
    `.execute(trx);

    for (const row of inserted)
      await notify(trx, {
        kind: 'order_updated',
        id: String(row.id),
        tenantId: input.tenantId,
        sourceId: input.sourceId,
        orderId: analyticsId.get(row.order_id) ?? '',
        externalOrderId: row.order_id,
        statusId: row.status_id,
      });
    return { recorded: inserted.length, duplicates: input.events.length - inserted.length };
  });
}

/** Announces a change to every stream, once the caller's transaction commits. */
export async function notify(db: Db, notice: StatusNotice): Promise<void> {
  await sql`select pg_notify(${STATUS_CHANNEL}, ${JSON.stringify(notice)})`.execute(db);
}

/** The events after `afterId` of a tenant's sources, for a stream resuming from its Last-Event-ID. */
export async function statusEventsSince(
  db: Db,
  input: { tenantId: string; sourceId?: string; afterId: string; limit: number },
): Promise<(Extract<StatusNotice, { kind: 'order_updated' }> & { id: string })[]> {
  let query = db
    .selectFrom('status_events as e')
    .innerJoin('analytics_orders as o', (join) =>
      join
        .onRef('o.tenant_id', '=', 'e.tenant_id')
        .onRef('o.source_id', '=', 'e.source_id')
        .onRef('o.order_id', '=', 'e.order_id'),
    )
    .select(['e.id', 'e.source_id', 'e.order_id', 'e.status_id', 'o.id as analytics_id'])
    .where('e.tenant_id', '=', input.tenantId)
    .where('e.id', '>', input.afterId)
    .orderBy('e.id')
    .limit(input.limit);
  if (input.sourceId) query = query.where('e.source_id', '=', input.sourceId);
  const rows = await query.execute();
  return rows.map((row) => ({
    kind: 'order_updated',
    id: String(row.id),
    tenantId: input.tenantId,
    sourceId: row.source_id,
    orderId: row.analytics_id,
    externalOrderId: row.order_id,
    statusId: row.status_id,
  }));
}
