import type { Kysely } from 'kysely';

/** Why an envelope was voided, so its link tells the customer the truth: replaced, withdrawn, or by the provider. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('signature_envelopes').addColumn('voided_because', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('signature_envelopes').dropColumn('voided_because').execute();
}
