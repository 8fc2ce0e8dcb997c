import { type Kysely, sql } from 'kysely';

/**
 * A Stripe delivery remembers the task queue of the deployment that received it: a flow it starts (a paid order's
 * fulfillment) runs there, whichever API process relays it. Older receipts start flows on the relay's own queue.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table webhook_receipts add column task_queue text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table webhook_receipts drop column task_queue`.execute(db);
}
