import { type Kysely, sql } from 'kysely';

/**
 * A flow's row follows the newest run of its execution: a reset's run wins over the run it replaced even with a
 * lower sequence (`run_started_at`). The reconciler visits open flows in turn, least recently checked first
 * (`reconciled_at`), to find what Temporal changed outside Flowdesk.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('flows')
    .addColumn('run_started_at', 'timestamptz')
    .addColumn('reconciled_at', 'timestamptz')
    .execute();
  await sql`create index flows_reconcile_open on flows (reconciled_at nulls first, id)
    where state not in ('completed', 'cancelled', 'failed', 'terminated')`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index flows_reconcile_open`.execute(db);
  await db.schema.alterTable('flows').dropColumn('run_started_at').dropColumn('reconciled_at').execute();
}
