import { type Kysely, sql } from 'kysely';
import { documentNumber } from '../domain/invoice.js';
import type { Database } from './schema.js';

/**
 * The next number of a series. Call it inside the transaction that writes the numbered document: the counter row
 * stays locked until commit, so concurrent issuers queue, and a rolled-back document gives its number back.
 */
export async function nextDocumentNumber(
  trx: Kysely<Database>,
  tenantId: string,
  series: 'INV' | 'CN' | 'ORD',
  year: number,
): Promise<string> {
  const { last_number } = await trx
    .insertInto('invoice_counters')
    .values({ tenant_id: tenantId, series, year, last_number: 1 })
    .onConflict((oc) =>
      oc
        .columns(['tenant_id', 'series', 'year'])
        .doUpdateSet({ last_number: sql`invoice_counters.last_number + 1` }),
    )
    .returning('last_number')
    .executeTakeFirstOrThrow();
  return documentNumber(series, year, last_number);
}
