import { type Kysely, sql } from 'kysely';

/**
 * Staff accounts for the ops console: a person with roles in one tenant (and, like a key, maybe acting for an
 * architect or a crew), invited by an admin with a one-time link, signing in with a password (scrypt, see
 * runtime/passwords.ts). Sessions are kept by the hash of their cookie's token, each with its CSRF token.
 * Programs keep using API keys.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table staff_users (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      email text not null,
      name text not null,
      roles text[] not null check (cardinality(roles) > 0),
      architect_id uuid,
      crew_id uuid,
      password_hash text,
      invite_token_hash text unique,
      invite_expires_at timestamptz,
      invited_by text not null,
      created_at timestamptz not null default now(),
      disabled_at timestamptz,
      unique (tenant_id, id),
      foreign key (tenant_id, architect_id) references architects (tenant_id, id),
      foreign key (tenant_id, crew_id) references crews (tenant_id, id)
    )`.execute(db);
  // One account per address: signing in names no tenant.
  await sql`create unique index staff_users_email on staff_users (lower(email))`.execute(db);
  await sql`
    create table staff_sessions (
      id uuid primary key default gen_random_uuid(),
      token_hash text not null unique,
      tenant_id uuid not null,
      user_id uuid not null,
      csrf_token text not null,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz,
      foreign key (tenant_id, user_id) references staff_users (tenant_id, id)
    )`.execute(db);
  // "Needs me now": an item (a flow's problem, a payment, a supplier order) taken by a person.
  await sql`
    create table console_assignments (
      tenant_id uuid not null,
      item_key text not null,
      user_id uuid not null,
      assigned_at timestamptz not null default now(),
      primary key (tenant_id, item_key),
      foreign key (tenant_id, user_id) references staff_users (tenant_id, id)
    )`.execute(db);
  // The flows with a problem a person may act on: few among many, found without reading the rest.
  await sql`create index flows_open_problems on flows (tenant_id)
    where jsonb_typeof(attention) = 'object' and ended_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index flows_open_problems`.execute(db);
  await sql`drop table console_assignments`.execute(db);
  await sql`drop table staff_sessions`.execute(db);
  await sql`drop table staff_users`.execute(db);
}
