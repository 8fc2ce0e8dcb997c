import { type Kysely, sql } from 'kysely';

/**
 * The companies hardware is sold to: contacts with roles from a fixed taxonomy, a primary contact per role, and an
 * address book with one default shipping and one default billing address.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table companies (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      company_key text not null,
      name text not null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      unique (tenant_id, company_key),
      unique (tenant_id, id)
    )`.execute(db);
  await sql`
    create table company_contacts (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      company_id uuid not null,
      name text not null,
      email text not null,
      phone text,
      roles text[] not null check (roles <@ array['billing', 'shipping', 'operations', 'technical', 'executive']),
      created_at timestamptz not null default now(),
      unique (tenant_id, id),
      unique (company_id, email),
      foreign key (tenant_id, company_id) references companies (tenant_id, id)
    )`.execute(db);
  await sql`
    create table company_primary_contacts (
      company_id uuid not null references companies (id),
      role text not null check (role in ('billing', 'shipping', 'operations', 'technical', 'executive')),
      contact_id uuid not null references company_contacts (id),
      primary key (company_id, role)
    )`.execute(db);
  await sql`
    create table company_addresses (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      company_id uuid not null,
      label text not null,
      street text not null,
      postcode text not null,
      city text not null,
      country text not null,
      default_shipping boolean not null default false,
      default_billing boolean not null default false,
      created_at timestamptz not null default now(),
      unique (tenant_id, id),
      foreign key (tenant_id, company_id) references companies (tenant_id, id)
    )`.execute(db);
  // One default of each kind per company, whatever two requests do at once.
  await sql`create unique index company_addresses_default_shipping on company_addresses (company_id)
    where default_shipping`.execute(db);
  await sql`create unique index company_addresses_default_billing on company_addresses (company_id)
    where default_billing`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['company_addresses', 'company_primary_contacts', 'company_contacts', 'companies'])
    await sql`drop table ${sql.table(table)}`.execute(db);
}
