import { type Kysely, sql } from 'kysely';

/**
 * A row that points at another row points at one of its own tenant: the database refuses, for instance, a
 * supplier order moved to another tenant's supplier, or a payment on another tenant's invoice, whatever the code
 * above it does.
 */
const LINKS = [
  { table: 'supplier_orders', column: 'supplier_id', target: 'suppliers' },
  { table: 'payments', column: 'invoice_id', target: 'invoices' },
  { table: 'checkout_sessions', column: 'invoice_id', target: 'invoices' },
  { table: 'money_events', column: 'payment_id', target: 'payments' },
  { table: 'signature_envelopes', column: 'contract_id', target: 'contracts' },
] as const;

const TARGETS = [...new Set(LINKS.map((link) => link.target))];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const target of TARGETS)
    await sql`alter table ${sql.table(target)} add constraint ${sql.ref(`${target}_tenant_id_id`)} unique (tenant_id, id)`.execute(
      db,
    );
  for (const { table, column, target } of LINKS)
    await sql`alter table ${sql.table(table)} add constraint ${sql.ref(`${table}_same_tenant_${target}`)}
      foreign key (tenant_id, ${sql.ref(column)}) references ${sql.table(target)} (tenant_id, id)`.execute(
      db,
    );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const { table, target } of LINKS)
    await sql`alter table ${sql.table(table)} drop constraint ${sql.ref(`${table}_same_tenant_${target}`)}`.execute(
      db,
    );
  for (const target of TARGETS)
    await sql`alter table ${sql.table(target)} drop constraint ${sql.ref(`${target}_tenant_id_id`)}`.execute(
      db,
    );
}
