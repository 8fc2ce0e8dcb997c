import { type Kysely, sql } from 'kysely';

/**
 * Hardware orders to delivery: the price book (global and regional entries) and companies' price agreements;
 * orders with immutable price snapshots per line; fulfillment items (what is left to ship of each line);
 * shipments with their address snapshot, items and courier; and every courier event as it came, once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table price_book_entries (
      tenant_id uuid not null references tenants (id),
      sku text not null,
      region text not null default '',
      currency char(3) not null,
      name text not null,
      unit_price bigint not null check (unit_price >= 0),
      stripe_price_id text,
      updated_at timestamptz not null default now(),
      primary key (tenant_id, sku, region, currency)
    )`.execute(db);
  await sql`
    create table company_prices (
      tenant_id uuid not null references tenants (id),
      company_id uuid not null,
      sku text not null,
      currency char(3) not null,
      unit_price bigint not null check (unit_price >= 0),
      stripe_price_id text,
      agreement text not null,
      updated_at timestamptz not null default now(),
      primary key (tenant_id, company_id, sku, currency),
      foreign key (tenant_id, company_id) references companies (tenant_id, id)
    )`.execute(db);
  await sql`
    create table orders (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null references tenants (id),
      number text not null,
      company_id uuid not null,
      billing_contact_id uuid not null,
      billing_address jsonb not null,
      region text not null default '',
      currency char(3) not null,
      payment_terms text not null check (payment_terms in ('prepaid', 'on_terms')),
      state text not null default 'draft' check (state in ('draft', 'checkout_open', 'payment_processing',
        'payment_failed', 'payment_expired', 'paid', 'confirmed', 'completed', 'cancelled')),
      fulfillment_state text check (fulfillment_state in ('ready_to_prepare', 'awaiting_shipment', 'in_transit',
        'completed', 'cancelled')),
      total bigint not null check (total >= 0),
      checkout_attempt integer not null default 0,
      flow_id text not null,
      created_at timestamptz not null default now(),
      paid_at timestamptz,
      completed_at timestamptz,
      updated_at timestamptz not null default now(),
      unique (tenant_id, number),
      unique (tenant_id, id),
      foreign key (tenant_id, company_id) references companies (tenant_id, id),
      foreign key (tenant_id, billing_contact_id) references company_contacts (tenant_id, id)
    )`.execute(db);
  await sql`
    create table order_lines (
      tenant_id uuid not null,
      order_id uuid not null,
      position integer not null,
      sku text not null,
      description text not null,
      quantity integer not null check (quantity > 0),
      unit_price bigint not null check (unit_price >= 0),
      price_source text not null check (price_source in ('price_book_global', 'price_book_regional',
        'company_agreement', 'bespoke')),
      price_notes text,
      stripe_price_id text,
      primary key (order_id, position),
      foreign key (tenant_id, order_id) references orders (tenant_id, id)
    )`.execute(db);
  await sql`
    create table fulfillment_items (
      tenant_id uuid not null,
      order_id uuid not null,
      position integer not null,
      quantity integer not null check (quantity > 0),
      remaining integer not null check (remaining >= 0 and remaining <= quantity),
      primary key (order_id, position),
      foreign key (order_id, position) references order_lines (order_id, position),
      foreign key (tenant_id, order_id) references orders (tenant_id, id)
    )`.execute(db);
  await sql`
    create table shipments (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null,
      order_id uuid not null,
      state text not null default 'draft'
        check (state in ('draft', 'ready', 'in_transit', 'delivered', 'cancelled')),
      address jsonb not null,
      courier_code text,
      tracking_number text,
      tracking_url text,
      courier_tag text,
      exception text,
      created_at timestamptz not null default now(),
      dispatched_at timestamptz,
      shipped_at timestamptz,
      delivered_at timestamptz,
      updated_at timestamptz not null default now(),
      unique (tenant_id, id),
      foreign key (tenant_id, order_id) references orders (tenant_id, id),
      foreign key (tenant_id, courier_code) references couriers (tenant_id, code)
    )`.execute(db);
  await sql`create unique index shipments_tracking on shipments (courier_code, tracking_number)
    where tracking_number is not null`.execute(db);
  await sql`create index shipments_order on shipments (tenant_id, order_id)`.execute(db);
  await sql`
    create table shipment_items (
      id uuid primary key default gen_random_uuid(),
      tenant_id uuid not null,
      shipment_id uuid not null,
      order_id uuid not null,
      position integer not null,
      quantity integer not null check (quantity > 0),
      automation jsonb not null default '[]',
      foreign key (tenant_id, shipment_id) references shipments (tenant_id, id),
      foreign key (order_id, position) references order_lines (order_id, position)
    )`.execute(db);
  await sql`create index shipment_items_shipment on shipment_items (shipment_id)`.execute(db);
  await sql`
    create table courier_events (
      id bigserial primary key,
      tenant_id uuid not null,
      shipment_id uuid not null,
      courier_code text not null,
      event_id text not null,
      tag text not null,
      subtag text,
      occurred_at timestamptz not null,
      received_at timestamptz not null default now(),
      applied boolean not null,
      ignored_reason text,
      unique (courier_code, event_id),
      foreign key (tenant_id, shipment_id) references shipments (tenant_id, id)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'courier_events',
    'shipment_items',
    'shipments',
    'fulfillment_items',
    'order_lines',
    'orders',
    'company_prices',
    'price_book_entries',
  ])
    await sql`drop table ${sql.table(table)}`.execute(db);
}
