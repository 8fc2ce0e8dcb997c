import { type Kysely, sql } from 'kysely';

/**
 * Events of one workflow task are written in one statement, with the same time (workflow time stands still
 * within a task) and the same transaction time: their position says in which order they happened.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table domain_events add column position bigint generated always as identity`.execute(db);
  await sql`create index domain_events_flow_order on domain_events (flow_id, occurred_at, position)`.execute(
    db,
  );
  await sql`drop index domain_events_flow_idx`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index domain_events_flow_idx on domain_events (flow_id, occurred_at)`.execute(db);
  await sql`drop index domain_events_flow_order`.execute(db);
  await db.schema.alterTable('domain_events').dropColumn('position').execute();
}
