import { type Kysely, sql } from 'kysely';

/**
 * Couriers, configured in a table per tenant: code, name, the tracking URL template (`{tracking}` is the tracking
 * number), and how tracking arrives (`aftership` webhooks, or `poll`). USPS, DHL, Canada Post and ChitChats are
 * seeded for every tenant, now and (a trigger) for each new one.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table couriers (
      tenant_id uuid not null references tenants (id),
      code text not null,
      name text not null,
      tracking_url_template text not null check (tracking_url_template like '%{tracking}%'),
      adapter text not null check (adapter in ('aftership', 'poll')),
      updated_at timestamptz not null default now(),
      primary key (tenant_id, code)
    )`.execute(db);
  await sql`
    create function seed_couriers(tenant uuid) returns void language sql as $$
      insert into couriers (tenant_id, code, name, tracking_url_template, adapter) values
        (tenant, 'usps', 'USPS', 'https://tools.usps.com/go/TrackConfirmAction?tLabels={tracking}', 'aftership'),
        (tenant, 'dhl', 'DHL', 'https://www.dhl.com/en/express/tracking.html?AWB={tracking}', 'aftership'),
        (tenant, 'canada-post', 'Canada Post',
         'https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={tracking}', 'aftership'),
        (tenant, 'chitchats', 'ChitChats', 'https://chitchats.com/tracking/{tracking}', 'poll')
      on conflict do nothing
    $$`.execute(db);
  await sql`select seed_couriers(id) from tenants`.execute(db);
  await sql`
    create function tenants_seed_couriers() returns trigger language plpgsql as $$
      begin perform seed_couriers(new.id); return new; end
    $$`.execute(db);
  await sql`create trigger tenants_seed_couriers after insert on tenants
    for each row execute function tenants_seed_couriers()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger tenants_seed_couriers on tenants`.execute(db);
  await sql`drop function tenants_seed_couriers()`.execute(db);
  await sql`drop function seed_couriers(uuid)`.execute(db);
  await sql`drop table couriers`.execute(db);
}
