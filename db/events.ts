import { type Kysely, sql } from 'kysely';
import type { Actor } from '../domain/flow.js';
import type { Database } from './schema.js';

export interface DomainEvent {
  tenantId: string;
  type: string;
  actor: Actor;
  entity: { type: string; id: string };
  flowId?: string | null;
  payload: Record<string, unknown>;
  occurredAt?: Date | string;
  /** Makes the append idempotent: an event with a key already recorded is not recorded again. */
  idempotencyKey: string;
  /** Shared by every event of a chain (a lead, its project, contract, invoices, orders); by default its root flow. */
  traceId?: string;
}

/** Appends an audit event; pass the transaction of the business write it describes. */
export async function appendEvent(db: Kysely<Database>, event: DomainEvent): Promise<void> {
  await appendEvents(db, [event]);
}

/** Appends audit events in one statement; each is recorded once by its idempotency key. */
export async function appendEvents(db: Kysely<Database>, events: readonly DomainEvent[]): Promise<void> {
  if (events.length === 0) return;
  await eventsInsert(db, events).execute();
}

/** The statement {@link appendEvents} runs, for a caller that makes it part of a larger one. */
export function eventsInsert(db: Kysely<Database>, events: readonly DomainEvent[]) {
  return db
    .insertInto('domain_events')
    .values(
      events.map((event) => ({
        tenant_id: event.tenantId,
        type: event.type,
        occurred_at: event.occurredAt ?? new Date(),
        actor: JSON.stringify(event.actor),
        entity_type: event.entity.type,
        entity_id: event.entity.id,
        flow_id: event.flowId ?? null,
        payload: JSON.stringify(event.payload),
        // One trace for the whole chain: a child flow's events carry the id of the flow that started it all.
        trace_id:
          event.traceId ??
          (event.flowId
            ? sql<string>`(select coalesce(root_id, id) from flows where id = ${event.flowId})`
            : null),
        idempotency_key: event.idempotencyKey,
      })),
    )
    .onConflict((oc) => oc.column('idempotency_key').doNothing());
}
