import { type Kysely, sql } from 'kysely';

/**
 * Every payment Stripe reports is recorded, even one that cannot be applied (an unknown or cancelled invoice, a
 * currency that is not the invoice's): it waits as `unapplied`, with its reason, for finance to apply it to
 * another invoice or refund it. Refunds and disputes are recorded against their payment, matched by payment
 * intent, and an invoice's balance counts its refunds.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table payments alter column invoice_id drop not null`.execute(db);
  await db.schema
    .alterTable('payments')
    .addColumn('state', 'text', (c) =>
      c.notNull().defaultTo('applied').check(sql`state in ('applied', 'unapplied', 'refunded')`),
    )
    .addColumn('unapplied_reason', 'text')
    .addColumn('payment_intent', 'text')
    .addColumn('checkout_session_id', 'text')
    .addColumn('refunded', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('disputed', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('resolved_by', 'jsonb')
    .execute();
  await sql`create index payments_unapplied on payments (tenant_id, created_at) where state = 'unapplied'`.execute(
    db,
  );
  await sql`create unique index payments_intent on payments (payment_intent) where payment_intent is not null`.execute(
    db,
  );
  await db.schema
    .alterTable('invoices')
    .addColumn('refunded', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('money_events')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('payment_id', 'uuid', (c) => c.notNull().references('payments.id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('refund', 'dispute')`))
    .addColumn('external_id', 'text', (c) => c.notNull().unique())
    .addColumn('amount', 'bigint', (c) => c.notNull())
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text')
    .addColumn('reason', 'text')
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create index money_events_payment on money_events (payment_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('money_events').execute();
  await db.schema.alterTable('invoices').dropColumn('refunded').execute();
  await sql`drop index payments_intent`.execute(db);
  await sql`drop index payments_unapplied`.execute(db);
  await db.schema
    .alterTable('payments')
    .dropColumn('state')
    .dropColumn('unapplied_reason')
    .dropColumn('payment_intent')
    .dropColumn('checkout_session_id')
    .dropColumn('refunded')
    .dropColumn('disputed')
    .dropColumn('resolved_by')
    .execute();
}
