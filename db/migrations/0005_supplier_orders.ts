import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // Credentials and the webhook secret are read by the worker and the webhook route only; the API never returns them.
  await db.schema
    .createTable('suppliers')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('base_url', 'text')
    .addColumn('credentials', 'text')
    .addColumn('webhook_secret', 'text')
    .addColumn('order_email', 'text', (c) => c.notNull())
    .addColumn('capabilities', 'jsonb', (c) => c.notNull())
    .addColumn('poll_every', 'text', (c) => c.notNull())
    .addColumn('lead_time', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('suppliers_tenant_code', ['tenant_id', 'code'])
    .execute();

  await db.schema
    .createTable('supplier_orders')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('tenant_id', 'uuid', (c) => c.notNull().references('tenants.id'))
    .addColumn('order_key', 'text', (c) => c.notNull())
    .addColumn('supplier_id', 'uuid', (c) => c.notNull().references('suppliers.id'))
    .addColumn('flow_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    // Goes up when the order is placed again with another supplier; each round has its own transitions.
    .addColumn('round', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('sent_via', 'text')
    .addColumn('supplier_reference', 'text')
    .addColumn('expected_ship_at', 'timestamptz')
    .addColumn('deliver_to', 'text')
    .addColumn('sent_at', 'timestamptz')
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('in_production_at', 'timestamptz')
    .addColumn('shipped_at', 'timestamptz')
    .addColumn('received_at', 'timestamptz')
    .addColumn('cancelled_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('supplier_orders_tenant_key', ['tenant_id', 'order_key'])
    .execute();
  await db.schema
    .createIndex('supplier_orders_supplier_reference')
    .on('supplier_orders')
    .columns(['supplier_id', 'supplier_reference'])
    .execute();

  await db.schema
    .createTable('supplier_order_lines')
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('supplier_orders.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('sku', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull())
    .addColumn('received_quantity', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('supplier_order_lines_pkey', ['order_id', 'position'])
    .addUniqueConstraint('supplier_order_lines_sku', ['order_id', 'sku'])
    .addCheckConstraint('supplier_order_lines_not_over_received', sql`received_quantity <= quantity`)
    .execute();

  // One row per delivery the warehouse books in; its id (the delivery note) makes a repeated booking harmless.
  await db.schema
    .createTable('supplier_order_receipts')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('supplier_orders.id'))
    .addColumn('receipt_key', 'text', (c) => c.notNull())
    .addColumn('lines', 'jsonb', (c) => c.notNull())
    .addColumn('received_by', 'jsonb', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addUniqueConstraint('supplier_order_receipts_key', ['order_id', 'receipt_key'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['supplier_order_receipts', 'supplier_order_lines', 'supplier_orders', 'suppliers']) {
    await db.schema.dropTable(table).execute();
  }
}
