import { sql } from 'kysely';
import type { SecretBox } from '../runtime/secretBox.js';
import type { Db } from './client.js';

/**
 * Seals supplier secrets stored before they were sealed at rest (runtime/secretBox.ts). The API's upkeep runs it:
 * a row already sealed is left alone, so it is done once.
 */
export async function sealStoredSupplierSecrets(db: Db, secrets: SecretBox): Promise<void> {
  const plain = await db
    .selectFrom('suppliers')
    .select(['id', 'credentials', 'webhook_secret'])
    .where((eb) =>
      eb.or([
        eb.and([eb('credentials', 'is not', null), eb('credentials', 'not like', 'sealed:%')]),
        eb.and([eb('webhook_secret', 'is not', null), eb('webhook_secret', 'not like', 'sealed:%')]),
      ]),
    )
    .execute();
  for (const row of plain) {
    const seal = (value: string | null) =>
      value === null || secrets.isSealed(value) ? value : secrets.seal(value);
    await db
      .updateTable('suppliers')
      .set({
        credentials: seal(row.credentials),
        webhook_secret: seal(row.webhook_secret),
        updated_at: sql`now()`,
      })
      .where('id', '=', row.id)
      .execute();
  }
}
