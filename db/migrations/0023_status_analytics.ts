import { type Kysely, sql } from 'kysely';

/**
 * Status analytics: a tenant's sources (its own flows, and outside CRM projects), their status dictionaries, the
 * one append-only log of status events every figure comes from, the orders those events are about (their items,
 * for urgency, and per-order overrides), and the settings figures are computed with: working-hours calendars per
 * status group, SLA limits, cycles and urgent rules. Intervals, durations and SLA colours are computed from the
 * log when asked (db/analytics/), never stored, so a late event or an edited calendar leaves nothing stale.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table status_sources (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      kind text not null check (kind in ('flowdesk', 'keycrm')),
      name text not null,
      base_url text,
      api_token text,
      webhook_secret_hash text,
      allowed_ips text[] not null default '{}',
      timezone text not null default 'UTC',
      active boolean not null default true,
      near_fraction numeric not null default 0.8 check (near_fraction > 0 and near_fraction < 1),
      -- The CRM's rate limit, as a token bucket every process draws from (integrations/crm/throttle.ts).
      api_tokens double precision not null default 0,
      api_tokens_at timestamptz not null default now(),
      statuses_refreshed_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (tenant_id, id)
    )`.execute(db);
  // Each tenant's own flows are one source, made with the tenant.
  await sql`create unique index status_sources_flowdesk_idx on status_sources (tenant_id) where kind = 'flowdesk'`.execute(
    db,
  );
  await sql`
    create table status_cycles (
      tenant_id uuid not null,
      source_id uuid not null,
      code text not null,
      name text not null,
      start_kind text not null check (start_kind in ('group', 'status')),
      start_ref text not null,
      end_kind text not null check (end_kind in ('group', 'status')),
      end_ref text not null,
      primary key (tenant_id, source_id, code),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);
  // The own source comes with the lead-to-installation cycles (db/analytics/flowStatuses.ts names the statuses).
  await sql`
    create function seed_flowdesk_source(tenant uuid) returns void language sql as $$
      with source as (
        insert into status_sources (tenant_id, kind, name) values (tenant, 'flowdesk', 'Flowdesk flows')
        on conflict do nothing
        returning id
      )
      insert into status_cycles (tenant_id, source_id, code, name, start_kind, start_ref, end_kind, end_ref)
      select tenant, source.id, c.code, c.name, 'status', c.start_ref, 'status', c.end_ref
      from source, (values
        ('lead_to_lock', 'Lead → Lock', 'leadToInstall:started', 'leadToInstall:selectionLocked.done'),
        ('lock_to_scheduled', 'Lock → Scheduled', 'leadToInstall:selectionLocked.done',
         'leadToInstall:installationScheduled.done'),
        ('scheduled_to_done', 'Scheduled → Done', 'leadToInstall:installationScheduled.done',
         'leadToInstall:installation.done')
      ) as c (code, name, start_ref, end_ref)
    $$`.execute(db);
  await sql`select seed_flowdesk_source(id) from tenants`.execute(db);
  await sql`
    create function tenants_seed_flowdesk_source() returns trigger language plpgsql as $$
      begin perform seed_flowdesk_source(new.id); return new; end
    $$`.execute(db);
  await sql`create trigger tenants_seed_flowdesk_source after insert on tenants
    for each row execute function tenants_seed_flowdesk_source()`.execute(db);

  await sql`
    create table status_groups (
      tenant_id uuid not null,
      source_id uuid not null,
      group_id text not null,
      name text not null,
      position integer not null default 0,
      primary key (tenant_id, source_id, group_id),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);
  await sql`
    create table source_statuses (
      tenant_id uuid not null,
      source_id uuid not null,
      status_id text not null,
      name text not null,
      alias text,
      group_id text not null,
      active boolean not null default true,
      position integer not null default 0,
      primary key (tenant_id, source_id, status_id),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);

  await sql`
    create table status_events (
      id bigint generated always as identity primary key,
      tenant_id uuid not null,
      source_id uuid not null,
      order_id text not null,
      status_id text not null,
      -- The group the event itself named; the dictionary's group wins when the status is in it.
      group_hint text,
      status_changed_at timestamptz not null,
      received_at timestamptz not null default now(),
      unique (source_id, order_id, status_id, status_changed_at),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);
  await sql`create index status_events_order_idx on status_events (source_id, order_id, status_changed_at, id)`.execute(
    db,
  );
  // A period's KPIs start from the orders with an event in it.
  await sql`create index status_events_time_idx on status_events (source_id, status_changed_at, order_id)`.execute(
    db,
  );

  await sql`
    create table analytics_orders (
      id uuid not null default gen_random_uuid() unique,
      tenant_id uuid not null,
      source_id uuid not null,
      order_id text not null,
      created_in_source_at timestamptz,
      first_seen_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      items jsonb,
      items_state text not null default 'pending' check (items_state in ('pending', 'fetched', 'failed', 'own')),
      items_attempts integer not null default 0,
      items_next_at timestamptz not null default now(),
      items_error text,
      urgent_override boolean,
      sla_profile_override text,
      cycle_overrides jsonb not null default '{}',
      primary key (tenant_id, source_id, order_id),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);
  await sql`create index analytics_orders_items_due_idx on analytics_orders (items_next_at)
    where items_state = 'pending'`.execute(db);

  // group_id '*' is the source's default calendar; a group without its own uses it; none at all is 24/7.
  await sql`
    create table work_calendars (
      tenant_id uuid not null,
      source_id uuid not null,
      group_id text not null,
      timezone text not null,
      windows jsonb not null,
      holidays date[] not null default '{}',
      primary key (tenant_id, source_id, group_id),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);
  await sql`
    create table sla_limits (
      tenant_id uuid not null,
      source_id uuid not null,
      profile text not null,
      group_id text not null,
      normal_minutes integer check (normal_minutes > 0),
      urgent_minutes integer check (urgent_minutes > 0),
      primary key (tenant_id, source_id, profile, group_id),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);
  await sql`
    create table urgent_rules (
      tenant_id uuid not null,
      source_id uuid not null,
      match text not null check (match in ('sku', 'offer_id', 'product_id')),
      value text not null,
      primary key (tenant_id, source_id, match, value),
      foreign key (tenant_id, source_id) references status_sources (tenant_id, id)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'urgent_rules',
    'status_cycles',
    'sla_limits',
    'work_calendars',
    'analytics_orders',
    'status_events',
    'source_statuses',
    'status_groups',
  ])
    await sql`drop table ${sql.table(table)}`.execute(db);
  await sql`drop trigger tenants_seed_flowdesk_source on tenants`.execute(db);
  await sql`drop function tenants_seed_flowdesk_source()`.execute(db);
  await sql`drop function seed_flowdesk_source(uuid)`.execute(db);
  await sql`drop table status_sources`.execute(db);
}
