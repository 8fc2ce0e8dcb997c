import { type Kysely, sql } from 'kysely';

/**
 * The console dashboard's figures, one row per tenant: computed from the flows, the status log and the payments
 * in the background at most once a minute (a month of figures takes seconds over a large log), read by every
 * page view.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table dashboard_snapshots (
      tenant_id uuid primary key references tenants (id),
      computed_at timestamptz,
      figures jsonb,
      -- Set while a process computes the figures; a claim older than five minutes is taken to have died.
      claimed_at timestamptz
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table dashboard_snapshots`.execute(db);
}
