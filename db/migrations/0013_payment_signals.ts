import type { Kysely } from 'kysely';

/**
 * When the invoice's flow was told of a payment: a repeated delivery of a payment already told is not signalled
 * again, and one whose signal was lost (no time here) is.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('payments').addColumn('signalled_at', 'timestamptz').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('payments').dropColumn('signalled_at').execute();
}
