import { type Kysely, sql } from 'kysely';

/**
 * An operator's decision to send an interrupted email again authorises one attempt. The decisions an email has
 * used are kept on its row, so a retry of that attempt (carrying the same decision) cannot send it a third time.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('emails')
    .addColumn('resend_decisions', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('emails').dropColumn('resend_decisions').execute();
}
