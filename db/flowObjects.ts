import { sql } from 'kysely';
import type { Db } from './client.js';

/**
 * The business objects a flow and the flows under it work on, as its page shows them: the lead and its project,
 * each contract with every version sent and its SHA-256, invoices with their payments, supplier orders, customer
 * orders with their shipments. Read only; each object's own module writes it.
 */
const NOTHING = { leads: [], projects: [], contracts: [], invoices: [], supplierOrders: [], orders: [] };

export async function flowObjects(db: Db, tenantId: string, flowId: string) {
  // The flow and every flow under it (a proposal's contract and invoice flows, a project's supplier orders).
  const flowIds = await sql<{ id: string }>`
    with recursive tree(id) as (
      select id from flows where tenant_id = ${tenantId} and id = ${flowId}
      union all
      select f.id from flows f join tree on f.parent_id = tree.id where f.tenant_id = ${tenantId}
    )
    select id from tree limit 1000`
    .execute(db)
    .then((result) => result.rows.map((row) => row.id));
  if (flowIds.length === 0) return NOTHING;
  const [leads, projects, contracts, invoices, supplierOrders, orders] = await Promise.all([
    db
      .selectFrom('leads')
      .select(['lead_key', 'state'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', 'in', flowIds)
      .execute(),
    db
      .selectFrom('projects')
      .select(['project_key', 'title', 'state', 'installation_at', 'contract_total', 'currency'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', 'in', flowIds)
      .execute(),
    db
      .selectFrom('contracts')
      .select(['id', 'contract_key', 'state', 'version', 'customer_name', 'signed_at'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', 'in', flowIds)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('invoices')
      .select(['id', 'invoice_key', 'number', 'state', 'currency', 'total', 'paid', 'refunded', 'due_at'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', 'in', flowIds)
      .orderBy('created_at')
      .execute(),
    db
      .selectFrom('supplier_orders')
      .innerJoin('suppliers', 'suppliers.id', 'supplier_orders.supplier_id')
      .select([
        'supplier_orders.order_key',
        'supplier_orders.state',
        'supplier_orders.supplier_reference',
        'supplier_orders.expected_ship_at',
        'suppliers.name as supplier',
      ])
      .where('supplier_orders.tenant_id', '=', tenantId)
      .where('supplier_orders.flow_id', 'in', flowIds)
      .orderBy('supplier_orders.created_at')
      .execute(),
    db
      .selectFrom('orders')
      .select(['id', 'number', 'state', 'fulfillment_state', 'currency', 'total'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', 'in', flowIds)
      .execute(),
  ]);
  const contractKeys = contracts.map((contract) => contract.contract_key);
  const invoiceIds = invoices.map((invoice) => invoice.id);
  const orderIds = orders.map((order) => order.id);
  const [versions, payments, shipments] = await Promise.all([
    contractKeys.length === 0
      ? []
      : db
          .selectFrom('documents')
          .select(['entity_id', 'version', 'sha256', 'created_at'])
          .where('tenant_id', '=', tenantId)
          .where('kind', '=', 'contract')
          .where('entity_id', 'in', contractKeys)
          .orderBy('version')
          .execute(),
    invoiceIds.length === 0
      ? []
      : db
          .selectFrom('payments')
          .select([
            'invoice_id',
            'source',
            'amount',
            'currency',
            'state',
            'received_at',
            'refunded',
            'disputed',
          ])
          .where('tenant_id', '=', tenantId)
          .where('invoice_id', 'in', invoiceIds)
          .orderBy('received_at')
          .execute(),
    orderIds.length === 0
      ? []
      : db
          .selectFrom('shipments')
          .select(['order_id', 'state', 'courier_code', 'tracking_number', 'tracking_url', 'delivered_at'])
          .where('tenant_id', '=', tenantId)
          .where('order_id', 'in', orderIds)
          .orderBy('created_at')
          .execute(),
  ]);
  return {
    leads,
    projects,
    contracts: contracts.map((contract) => ({
      ...contract,
      versions: versions.filter((version) => version.entity_id === contract.contract_key),
    })),
    invoices: invoices.map((invoice) => ({
      ...invoice,
      payments: payments.filter((payment) => payment.invoice_id === invoice.id),
    })),
    supplierOrders,
    orders: orders.map((order) => ({
      ...order,
      shipments: shipments.filter((shipment) => shipment.order_id === order.id),
    })),
  };
}

export type FlowObjects = Awaited<ReturnType<typeof flowObjects>>;
