import { type Kysely, sql } from 'kysely';

/**
 * Automation steps: a tenant's scenario configurations (beyond the defaults), and each step of a shipment item in
 * the legacy system, with what it came to.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table automation_scenarios (
      tenant_id uuid not null references tenants (id),
      scenario text not null,
      config jsonb not null,
      updated_at timestamptz not null default now(),
      primary key (tenant_id, scenario)
    )`.execute(db);
  await sql`
    create table automation_steps (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      shipment_item_id text not null,
      scenario text not null,
      state text not null
        check (state in ('pending', 'running', 'retrying', 'failed', 'completed', 'fallback_triggered', 'cancelled')),
      attempts integer not null default 0,
      last_error text,
      device jsonb not null,
      device_id text,
      fallback_notes text,
      flow_id text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (tenant_id, shipment_item_id, scenario),
      unique (tenant_id, id)
    )`.execute(db);
  await sql`create index automation_steps_scenario on automation_steps (tenant_id, scenario, state)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table automation_steps`.execute(db);
  await sql`drop table automation_scenarios`.execute(db);
}
