import type { Db } from './client.js';

/** Returns the tenant's id, creating the tenant the first time; safe to call concurrently. */
export async function ensureTenant(
  db: Db,
  slug: string,
  name: string,
): Promise<{ id: string; created: boolean }> {
  const inserted = await db
    .insertInto('tenants')
    .values({ slug, name })
    .onConflict((oc) => oc.column('slug').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { id: inserted.id, created: true };
  const existing = await db
    .selectFrom('tenants')
    .select('id')
    .where('slug', '=', slug)
    .executeTakeFirstOrThrow();
  return { id: existing.id, created: false };
}
