import { type Kysely, sql } from 'kysely';
import type { Actor } from '../domain/flow.js';
import type { CompanyPriceRequest, PriceBookEntryRequest, PriceSource } from '../domain/order.schema.js';
import { appendEvent } from './events.js';
import type { Database } from './schema.js';

/**
 * The prices hardware is sold at: the price book (a global entry per SKU and currency, regional ones beside it)
 * and companies' price agreements. The one place they are written, and the one place a line's price is decided.
 */

export interface ResolvedPrice {
  source: PriceSource;
  description: string;
  unitPrice: number;
  stripePriceId: string | null;
  /** The agreement, for a company price. */
  notes: string | null;
}

type Change = { tenantId: string; actor: Actor; requestId: string };

export async function savePriceBookEntry(
  db: Kysely<Database>,
  change: Change & { sku: string; entry: PriceBookEntryRequest },
): Promise<void> {
  const { entry } = change;
  const values = {
    name: entry.name,
    unit_price: entry.unitPrice,
    stripe_price_id: entry.stripePriceId ?? null,
  };
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('price_book_entries')
      .values({
        tenant_id: change.tenantId,
        sku: change.sku,
        region: entry.region ?? '',
        currency: entry.currency,
        ...values,
      })
      .onConflict((oc) =>
        oc
          .columns(['tenant_id', 'sku', 'region', 'currency'])
          .doUpdateSet({ ...values, updated_at: sql`now()` }),
      )
      .execute();
    await appendEvent(trx, {
      tenantId: change.tenantId,
      type: 'price_book.entry.saved',
      actor: change.actor,
      entity: { type: 'sku', id: change.sku },
      payload: { sku: change.sku, ...entry },
      idempotencyKey: `price-book/${change.sku}/${change.requestId}`,
    });
  });
}

/** Sets a company's agreed price for a SKU; `no_company` when the tenant has no such company. */
export async function saveCompanyPrice(
  db: Kysely<Database>,
  change: Change & { companyKey: string; sku: string; price: CompanyPriceRequest },
): Promise<'saved' | 'no_company'> {
  return db.transaction().execute(async (trx) => {
    const company = await trx
      .selectFrom('companies')
      .select('id')
      .where('tenant_id', '=', change.tenantId)
      .where('company_key', '=', change.companyKey)
      .executeTakeFirst();
    if (!company) return 'no_company';
    const { price } = change;
    const values = {
      unit_price: price.unitPrice,
      agreement: price.agreement,
      stripe_price_id: price.stripePriceId ?? null,
    };
    await trx
      .insertInto('company_prices')
      .values({
        tenant_id: change.tenantId,
        company_id: company.id,
        sku: change.sku,
        currency: price.currency,
        ...values,
      })
      .onConflict((oc) =>
        oc
          .columns(['tenant_id', 'company_id', 'sku', 'currency'])
          .doUpdateSet({ ...values, updated_at: sql`now()` }),
      )
      .execute();
    await appendEvent(trx, {
      tenantId: change.tenantId,
      type: 'company.price.saved',
      actor: change.actor,
      entity: { type: 'company', id: change.companyKey },
      payload: { sku: change.sku, ...price },
      idempotencyKey: `company-price/${change.companyKey}/${change.sku}/${change.requestId}`,
    });
    return 'saved';
  });
}

/**
 * A SKU's price for a company in a region and currency, by the rules: the company's agreement, else the
 * region's price-book entry, else the global one. Undefined when none applies.
 */
export async function resolvePrice(
  db: Kysely<Database>,
  query: { tenantId: string; companyId: string; region: string; currency: string; sku: string },
): Promise<ResolvedPrice | undefined> {
  const book = await db
    .selectFrom('price_book_entries')
    .selectAll()
    .where('tenant_id', '=', query.tenantId)
    .where('sku', '=', query.sku)
    .where('currency', '=', query.currency)
    .where('region', 'in', [...new Set(['', query.region])])
    .execute();
  const regional = book.find((entry) => entry.region !== '' && entry.region === query.region);
  const global = book.find((entry) => entry.region === '');
  const named = regional ?? global;
  const agreed = await db
    .selectFrom('company_prices')
    .selectAll()
    .where('tenant_id', '=', query.tenantId)
    .where('company_id', '=', query.companyId)
    .where('sku', '=', query.sku)
    .where('currency', '=', query.currency)
    .executeTakeFirst();
  if (agreed)
    return {
      source: 'company_agreement',
      description: named?.name ?? query.sku,
      unitPrice: Number(agreed.unit_price),
      stripePriceId: agreed.stripe_price_id,
      notes: agreed.agreement,
    };
  if (!named) return undefined;
  return {
    source: regional ? 'price_book_regional' : 'price_book_global',
    description: named.name,
    unitPrice: Number(named.unit_price),
    stripePriceId: named.stripe_price_id,
    notes: null,
  };
}
