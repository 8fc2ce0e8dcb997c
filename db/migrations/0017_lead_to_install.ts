import { type Kysely, sql } from 'kysely';

/**
 * Lead to installation: architects and crews (API keys may act for one), leads, projects, the tenant's
 * catalogue, the customer's panel selections with their versions, and change requests after a lock. Every row
 * that points at another points at one of its own tenant (composite keys, as 0011).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table architects (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      name text not null,
      email text not null,
      created_at timestamptz not null default now(),
      unique (tenant_id, id),
      unique (tenant_id, email)
    )`.execute(db);

  // A crew does so many jobs a day and so many a week; its job sheets go to its email.
  await sql`
    create table crews (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      name text not null,
      email text not null,
      jobs_per_day integer not null check (jobs_per_day > 0),
      weekly_capacity integer not null check (weekly_capacity > 0),
      active boolean not null default true,
      created_at timestamptz not null default now(),
      unique (tenant_id, id),
      unique (tenant_id, name)
    )`.execute(db);

  await sql`
    alter table api_keys
      add column architect_id uuid,
      add column crew_id uuid,
      add constraint api_keys_same_tenant_architects foreign key (tenant_id, architect_id)
        references architects (tenant_id, id),
      add constraint api_keys_same_tenant_crews foreign key (tenant_id, crew_id) references crews (tenant_id, id)
  `.execute(db);

  await sql`
    create table leads (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      lead_key text not null,
      state text not null check (state in ('NEW', 'QUALIFIED', 'WON', 'LOST')),
      source text not null,
      customer jsonb not null,
      site jsonb not null,
      system_size_kwp numeric(8, 2),
      architect_id uuid,
      notes text,
      qualification jsonb,
      lost_reason text,
      flow_id text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (tenant_id, lead_key),
      unique (tenant_id, id),
      foreign key (tenant_id, architect_id) references architects (tenant_id, id)
    )`.execute(db);
  await sql`create index leads_architect on leads (tenant_id, architect_id, created_at desc)`.execute(db);

  // One project per lead: converting twice finds the first. The installation slot is the crew's booking.
  await sql`
    create table projects (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      project_key text not null,
      lead_id uuid not null,
      state text not null
        check (state in ('DRAFT', 'CONFIRMED', 'SCHEDULED', 'IN_PROGRESS', 'DONE', 'CLOSED', 'CANCELLED')),
      title text not null,
      currency text not null,
      contract_lines jsonb not null,
      contract_total bigint not null check (contract_total >= 0),
      crew_id uuid,
      installation_at timestamptz,
      installation_day date,
      installation_tentative boolean not null default true,
      capacity_note text,
      checklist jsonb,
      completion_notes text,
      open_problem text,
      flow_id text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (tenant_id, project_key),
      unique (tenant_id, lead_id),
      unique (tenant_id, id),
      foreign key (tenant_id, lead_id) references leads (tenant_id, id),
      foreign key (tenant_id, crew_id) references crews (tenant_id, id)
    )`.execute(db);
  await sql`create index projects_crew_day on projects (crew_id, installation_day)`.execute(db);

  // Per-site stock rules: at least / at most so many per installation, and in packs of so many.
  await sql`
    create table catalogue_items (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      sku text not null,
      kind text not null check (kind in ('panel', 'inverter', 'accessory')),
      name text not null,
      supplier_id uuid not null,
      unit_price bigint not null check (unit_price >= 0),
      currency text not null,
      lead_time_days integer not null check (lead_time_days >= 0),
      min_per_site integer not null default 0 check (min_per_site >= 0),
      max_per_site integer check (max_per_site > 0),
      pack_of integer not null default 1 check (pack_of > 0),
      active boolean not null default true,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (tenant_id, sku),
      foreign key (tenant_id, supplier_id) references suppliers (tenant_id, id)
    )`.execute(db);

  // Each version of a project's selection: a draft while the customer edits, then locked with its prices.
  await sql`
    create table panel_selections (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      project_id uuid not null,
      version integer not null check (version > 0),
      state text not null
        check (state in ('DRAFT', 'LOCKED', 'PRODUCED', 'DELIVERED', 'INSTALLED', 'SUPERSEDED')),
      lines jsonb not null default '[]',
      total bigint,
      saved_at timestamptz,
      noted_at timestamptz,
      locked_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (project_id, version),
      unique (tenant_id, id),
      foreign key (tenant_id, project_id) references projects (tenant_id, id)
    )`.execute(db);

  await sql`
    create table selection_change_requests (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      project_id uuid not null,
      from_version integer not null,
      lines jsonb not null,
      reason text not null,
      state text not null check (state in ('REQUESTED', 'APPROVED', 'REJECTED')),
      decided_by jsonb,
      decision_note text,
      created_at timestamptz not null default now(),
      decided_at timestamptz,
      unique (tenant_id, id),
      foreign key (tenant_id, project_id) references projects (tenant_id, id)
    )`.execute(db);
  await sql`create unique index selection_change_requests_open on selection_change_requests (project_id)
    where state = 'REQUESTED'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'selection_change_requests',
    'panel_selections',
    'catalogue_items',
    'projects',
    'leads',
  ])
    await sql`drop table ${sql.table(table)}`.execute(db);
  await sql`alter table api_keys drop column architect_id, drop column crew_id`.execute(db);
  await sql`drop table crews`.execute(db);
  await sql`drop table architects`.execute(db);
}
