import { type Kysely, sql } from 'kysely';

/**
 * A flow's page shows the business objects it works on, found by the flow's id (and its payments by invoice):
 * without these, each look-up read every row of its table.
 */
const INDEXES = [
  ['contracts_flow', 'contracts (tenant_id, flow_id)'],
  ['invoices_flow', 'invoices (tenant_id, flow_id)'],
  ['payments_invoice', 'payments (invoice_id) where invoice_id is not null'],
  ['supplier_orders_flow', 'supplier_orders (tenant_id, flow_id)'],
  ['orders_flow', 'orders (tenant_id, flow_id)'],
  ['leads_flow', 'leads (tenant_id, flow_id)'],
  ['projects_flow', 'projects (tenant_id, flow_id)'],
] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const [name, on] of INDEXES) await sql`create index ${sql.raw(name)} on ${sql.raw(on)}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const [name] of INDEXES) await sql`drop index ${sql.raw(name)}`.execute(db);
}
