import type { Kysely } from 'kysely';

/**
 * A webhook's whole payload (a Stripe event carries the customer's name, email and address) is kept for a while
 * for finance and support, then cut down to what deduplication and the audit trail need (db/retention.ts);
 * `pruned_at` says when.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('webhook_receipts').addColumn('pruned_at', 'timestamptz').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('webhook_receipts').dropColumn('pruned_at').execute();
}
