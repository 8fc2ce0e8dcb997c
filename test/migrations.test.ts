import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type Db } from '../db/client.js';
import { migrateToLatest } from '../db/migrate.js';
import { createDatabaseIfMissing, dropDatabase, withDatabase } from '../scripts/stack/postgres.js';

describe('migrations', () => {
  const name = `flowdesk_migrations_${randomBytes(4).toString('hex')}`;
  let db: Db;

  beforeAll(async () => {
    await createDatabaseIfMissing(inject('databaseAdminUrl'), name);
    db = createDb(withDatabase(inject('databaseAdminUrl'), name), 2);
  });
  afterAll(async () => {
    await db.destroy();
    await dropDatabase(inject('databaseAdminUrl'), name);
  });

  it('apply to an empty database, then apply nothing the second time', async () => {
    const first = await migrateToLatest(db);
    expect(first.applied).toEqual([
      '0001_flow_kernel',
      '0002_contracts',
      '0003_invoices',
      '0004_flow_search',
      '0005_supplier_orders',
      '0006_email_resends',
      '0007_flow_runs',
      '0008_flow_parents',
      '0009_event_positions',
      '0010_money',
      '0011_tenant_keys',
      '0012_void_reasons',
      '0013_payment_signals',
      '0014_stripe_inbox',
      '0015_receipt_retention',
      '0016_key_expiry',
      '0017_lead_to_install',
      '0018_automation',
      '0019_companies',
      '0020_couriers',
      '0021_orders',
      '0022_receipt_task_queue',
      '0023_status_analytics',
      '0024_flow_status_relay',
      '0025_staff_accounts',
      '0026_dashboard_snapshots',
      '0027_flow_object_indexes',
      '0028_bulk_actions',
    ]);
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(
      db,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['api_keys', 'domain_events', 'emails', 'flows', 'tenants', 'webhook_receipts']),
    );

    const second = await migrateToLatest(db);
    expect(second.applied).toEqual([]);
  });

  it('make idempotent writes possible: a repeated webhook receipt or event key is refused', async () => {
    await migrateToLatest(db);
    const receipt = {
      source: 'stripe',
      external_id: 'evt_1',
      event_type: 'checkout.session.completed',
      payload: '{}',
    };
    await db.insertInto('webhook_receipts').values(receipt).execute();
    const again = await db
      .insertInto('webhook_receipts')
      .values(receipt)
      .onConflict((oc) => oc.columns(['source', 'external_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    expect(again).toBeUndefined();
    await expect(db.insertInto('webhook_receipts').values(receipt).execute()).rejects.toThrow(
      /duplicate key/,
    );

    const tenant = await db
      .insertInto('tenants')
      .values({ slug: 'acme', name: 'Acme' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const event = {
      tenant_id: tenant.id,
      type: 'flow.started',
      occurred_at: new Date(),
      actor: JSON.stringify({ type: 'system' }),
      entity_type: 'flow',
      entity_id: 'proposal:acme:1',
      idempotency_key: 'proposal:acme:1/started',
    };
    await db.insertInto('domain_events').values(event).execute();
    await expect(db.insertInto('domain_events').values(event).execute()).rejects.toThrow(/duplicate key/);
  });

  it('refuse a row that points at another tenant’s row: a supplier order at another tenant’s supplier', async () => {
    await migrateToLatest(db);
    const tenant = (slug: string) =>
      db.insertInto('tenants').values({ slug, name: slug }).returning('id').executeTakeFirstOrThrow();
    const [a, b] = [await tenant(`a-${Date.now()}`), await tenant(`b-${Date.now()}`)];
    const supplier = (tenantId: string, code: string) =>
      db
        .insertInto('suppliers')
        .values({
          tenant_id: tenantId,
          code,
          name: code,
          protocol: 'email',
          order_email: `${code.toLowerCase()}@example.com`,
          capabilities: JSON.stringify({ webhooks: false, polling: false, cancellation: false }),
          poll_every: '1 hour',
          lead_time: '7 days',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
    const own = await supplier(a.id, 'OWN');
    const theirs = await supplier(b.id, 'THEIRS');
    const order = await db
      .insertInto('supplier_orders')
      .values({ tenant_id: a.id, order_key: 'PO-1', supplier_id: own.id, flow_id: 'f', state: 'CREATED' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await expect(
      db.updateTable('supplier_orders').set({ supplier_id: theirs.id }).where('id', '=', order.id).execute(),
    ).rejects.toThrow(/supplier_orders_same_tenant_suppliers/);
  });
});
