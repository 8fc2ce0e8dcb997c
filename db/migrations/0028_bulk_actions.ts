import { type Kysely, sql } from 'kysely';

/**
 * A bulk pause, resume or cancel from the console: the flows asked about, each one's result as it comes, and when
 * all were answered. The page that asked shows its progress from here, whichever API process it asks.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table console_bulk_actions (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      requested_by text not null,
      action text not null check (action in ('pause', 'resume', 'cancel')),
      reason text not null,
      flow_ids text[] not null,
      results jsonb not null default '[]',
      created_at timestamptz not null default now(),
      finished_at timestamptz
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table console_bulk_actions`.execute(db);
}
