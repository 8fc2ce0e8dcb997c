import { type Kysely, sql } from 'kysely';

/**
 * Flowdesk's own flows reach the status log through a relay that reads their audit events in batches
 * (db/analytics/flowStatuses.ts), no longer inside every publication. A flow event records the transaction that
 * wrote it (`xact`): the relay reads only events whose transactions are all finished, in (xact, id) order, so an
 * event committed late is never passed over. Events from before have their statuses already (written at
 * publication), and no `xact`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table domain_events add column xact xid8`.execute(db);
  await sql`alter table domain_events alter column xact set default pg_current_xact_id()`.execute(db);
  await sql`create index domain_events_flow_relay on domain_events (xact, id)
    where xact is not null and entity_type = 'flow'`.execute(db);
  await sql`create table relay_cursors (
    name text primary key,
    xact xid8 not null,
    event_id uuid not null
  )`.execute(db);
  await sql`insert into relay_cursors (name, xact, event_id)
    values ('flow_statuses', '0', '00000000-0000-0000-0000-000000000000')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table relay_cursors`.execute(db);
  await sql`drop index domain_events_flow_relay`.execute(db);
  await sql`alter table domain_events drop column xact`.execute(db);
}
