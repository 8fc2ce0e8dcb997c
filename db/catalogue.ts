import { type Kysely, type Selectable, sql } from 'kysely';
import type { CatalogueItem, PricedLine } from '../domain/catalogue.schema.js';
import type { Actor } from '../domain/flow.js';
import type { SelectionLine } from '../domain/leadToInstall.schema.js';
import { appendEvent } from './events.js';
import type { CatalogueItemsTable, Database } from './schema.js';

/** The tenant's catalogue: the one place items are written, and where a selection gets its prices. */

export type CatalogueRow = Selectable<CatalogueItemsTable> & { supplier_code: string };

export interface CatalogueView extends Omit<CatalogueItem, 'maxPerSite'> {
  maxPerSite: number | null;
}

export const catalogueView = (row: CatalogueRow): CatalogueView => ({
  sku: row.sku,
  kind: row.kind as CatalogueItem['kind'],
  name: row.name,
  supplier: row.supplier_code,
  unitPrice: Number(row.unit_price),
  currency: row.currency,
  leadTimeDays: row.lead_time_days,
  minPerSite: row.min_per_site,
  maxPerSite: row.max_per_site,
  packOf: row.pack_of,
  active: row.active,
});

function catalogueRows(db: Kysely<Database>, tenantId: string) {
  return db
    .selectFrom('catalogue_items')
    .innerJoin('suppliers', 'suppliers.id', 'catalogue_items.supplier_id')
    .selectAll('catalogue_items')
    .select('suppliers.code as supplier_code')
    .where('catalogue_items.tenant_id', '=', tenantId);
}

export async function listCatalogue(
  db: Kysely<Database>,
  tenantId: string,
  options: { activeOnly?: boolean; currency?: string } = {},
): Promise<CatalogueRow[]> {
  let query = catalogueRows(db, tenantId);
  if (options.activeOnly) query = query.where('catalogue_items.active', '=', true);
  if (options.currency) query = query.where('catalogue_items.currency', '=', options.currency);
  return query.orderBy('catalogue_items.kind').orderBy('catalogue_items.sku').execute();
}

/** Creates or replaces an item by its SKU; `undefined` when the named producer is not one of the tenant's. */
export async function saveCatalogueItem(
  db: Kysely<Database>,
  input: { tenantId: string; item: CatalogueItem; actor: Actor; requestId: string },
): Promise<{ view: CatalogueView; created: boolean } | undefined> {
  const { tenantId, item } = input;
  return db.transaction().execute(async (trx) => {
    const supplier = await trx
      .selectFrom('suppliers')
      .select(['id', 'code'])
      .where('tenant_id', '=', tenantId)
      .where('code', '=', item.supplier)
      .executeTakeFirst();
    if (!supplier) return undefined;
    const values = {
      kind: item.kind,
      name: item.name,
      supplier_id: supplier.id,
      unit_price: item.unitPrice,
      currency: item.currency,
      lead_time_days: item.leadTimeDays,
      min_per_site: item.minPerSite,
      max_per_site: item.maxPerSite ?? null,
      pack_of: item.packOf,
      active: item.active,
    };
    const row = await trx
      .insertInto('catalogue_items')
      .values({ tenant_id: tenantId, sku: item.sku, ...values })
      .onConflict((oc) => oc.columns(['tenant_id', 'sku']).doUpdateSet({ ...values, updated_at: sql`now()` }))
      .returning(['id', sql<boolean>`xmax = 0`.as('created')])
      .executeTakeFirstOrThrow();
    await appendEvent(trx, {
      tenantId,
      type: 'catalogue.item.saved',
      actor: input.actor,
      entity: { type: 'catalogue_item', id: item.sku },
      payload: { ...item },
      idempotencyKey: `catalogue/${row.id}/${input.requestId}`,
    });
    const saved = await catalogueRows(trx, tenantId)
      .where('catalogue_items.id', '=', row.id)
      .executeTakeFirstOrThrow();
    return { view: catalogueView(saved), created: row.created };
  });
}

export interface LineProblem {
  /** The line's position in what was sent. */
  index: number;
  field: 'sku' | 'quantity';
  message: string;
}

/**
 * Prices a selection from the catalogue as it is now: each chosen item must be active, in the project's currency,
 * and within its per-site rules. Lines of quantity 0 are left out.
 */
export async function priceLines(
  db: Kysely<Database>,
  input: { tenantId: string; currency: string; lines: readonly SelectionLine[] },
): Promise<{ priced: PricedLine[]; problems: LineProblem[] }> {
  const skus = input.lines.map((line) => line.sku);
  const rows =
    skus.length === 0
      ? []
      : await catalogueRows(db, input.tenantId).where('catalogue_items.sku', 'in', skus).execute();
  const bySku = new Map(rows.map((row) => [row.sku, row]));
  const priced: PricedLine[] = [];
  const problems: LineProblem[] = [];
  for (const [index, line] of input.lines.entries()) {
    const item = bySku.get(line.sku);
    if (!item?.active || item.currency !== input.currency) {
      problems.push({ index, field: 'sku', message: `${line.sku} is not in the catalogue` });
      continue;
    }
    if (line.quantity === 0) continue;
    const rule =
      line.quantity < item.min_per_site
        ? `at least ${item.min_per_site} per site`
        : item.max_per_site !== null && line.quantity > item.max_per_site
          ? `at most ${item.max_per_site} per site`
          : line.quantity % item.pack_of !== 0
            ? `in packs of ${item.pack_of}`
            : undefined;
    if (rule) {
      problems.push({ index, field: 'quantity', message: `${item.name}: ${rule}` });
      continue;
    }
    priced.push({
      sku: item.sku,
      name: item.name,
      kind: item.kind,
      quantity: line.quantity,
      unitPrice: Number(item.unit_price),
      supplierId: item.supplier_id,
      supplierCode: item.supplier_code,
      leadTimeDays: item.lead_time_days,
    });
  }
  return { priced, problems };
}

export const pricedTotal = (lines: readonly PricedLine[]) =>
  lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
