import { sql } from 'kysely';
import type { Db } from './client.js';

/** What users filter the flow list by: the API's `GET /v1/flows` and the console's Flows page alike. */
export interface FlowFilter {
  type?: string;
  state?: string;
  step?: string;
  /** Text in the flow id or business key. */
  q?: string;
  /** Started on or after / before. */
  from?: Date;
  to?: Date;
}

function filtered(db: Db, tenantId: string, filter: FlowFilter) {
  let select = db.selectFrom('flows').where('tenant_id', '=', tenantId);
  if (filter.type) select = select.where('flow_type', '=', filter.type);
  if (filter.state) select = select.where('state', '=', filter.state);
  if (filter.step) select = select.where('current_step', '=', filter.step);
  if (filter.q) {
    const pattern = `%${filter.q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    select = select.where((eb) => eb.or([eb('id', 'ilike', pattern), eb('business_key', 'ilike', pattern)]));
  }
  if (filter.from) select = select.where('started_at', '>=', filter.from);
  if (filter.to) select = select.where('started_at', '<', filter.to);
  return select;
}

/** A page of flows, most recently changed first, after the (updatedAt, id) of the previous page's last. */
export function listFlows(
  db: Db,
  tenantId: string,
  filter: FlowFilter,
  page: { limit: number; after?: { updatedAt: string; id: string } },
) {
  let select = filtered(db, tenantId, filter).selectAll();
  if (page.after)
    select = select.where(
      sql<boolean>`(updated_at, id) < (${page.after.updatedAt}::timestamptz, ${page.after.id})`,
    );
  return select.orderBy('updated_at', 'desc').orderBy('id', 'desc').limit(page.limit).execute();
}

/** How many flows the filter finds in each state (the state filter aside, so every state's count shows). */
export async function flowCountsByState(
  db: Db,
  tenantId: string,
  filter: FlowFilter,
): Promise<Record<string, number>> {
  const rows = await filtered(db, tenantId, { ...filter, state: undefined })
    .select(['state', (eb) => eb.fn.countAll<string>().as('flows')])
    .groupBy('state')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.state, Number(row.flows)]));
}
