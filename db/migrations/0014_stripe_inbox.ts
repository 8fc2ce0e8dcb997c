import { type Kysely, sql } from 'kysely';

/**
 * Stripe's deliveries become an inbox: the webhook answers once the receipt is stored, and a relay applies the
 * receipts in order (processed_at, with the news for flows in `effects`) and then tells the flows (relayed_at).
 * A receipt that cannot be applied yet, or whose flows cannot be told yet, is tried again at `retry_at`, with
 * its attempts and last error on record. Receipts stored before the inbox were applied and relayed on arrival.
 * `payments.signalled_at` (0013) is dropped: a receipt's `relayed_at` says when its flows were told.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table webhook_receipts
    add column position bigint generated always as identity,
    add column effects jsonb,
    add column relayed_at timestamptz,
    add column attempts integer not null default 0,
    add column last_error text,
    add column retry_at timestamptz`.execute(db);
  await sql`update webhook_receipts set processed_at = coalesce(processed_at, received_at),
    relayed_at = coalesce(processed_at, received_at)`.execute(db);
  await sql`create index webhook_receipts_stripe_inbox on webhook_receipts (position)
    where source = 'stripe' and relayed_at is null`.execute(db);
  await db.schema.alterTable('payments').dropColumn('signalled_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('payments').addColumn('signalled_at', 'timestamptz').execute();
  await sql`drop index webhook_receipts_stripe_inbox`.execute(db);
  await sql`alter table webhook_receipts drop column position, drop column effects, drop column relayed_at,
    drop column attempts, drop column last_error, drop column retry_at`.execute(db);
}
