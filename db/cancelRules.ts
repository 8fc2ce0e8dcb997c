import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/**
 * Whether a flow may be cancelled now, one rule per flow type, read from its business records; every route that
 * cancels asks here first. A flow runs its children's rules too: cancelling it cancels them.
 */
type Rule = (db: Kysely<Database>, tenantId: string, flowId: string) => Promise<string | undefined>;

const RULES: Record<string, Rule> = {
  async supplierOrder(db, tenantId, flowId) {
    const order = await db
      .selectFrom('supplier_orders')
      .select(['order_key', 'state'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', '=', flowId)
      .executeTakeFirst();
    if (order && ['SHIPPED', 'RECEIVED'].includes(order.state))
      return `order ${order.order_key} is ${order.state}: the goods have left the supplier; arrange a return instead`;
    return undefined;
  },
  async invoicePayment(db, tenantId, flowId) {
    const invoice = await db
      .selectFrom('invoices')
      .select(['number', 'state'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', '=', flowId)
      .executeTakeFirst();
    if (invoice?.state === 'PAID')
      return `invoice ${invoice.number} is paid: refund it instead of cancelling it`;
    return undefined;
  },
  async leadToInstall(db, tenantId, flowId) {
    const project = await db
      .selectFrom('projects')
      .select(['project_key', 'state'])
      .where('tenant_id', '=', tenantId)
      .where('flow_id', '=', flowId)
      .executeTakeFirst();
    if (project && ['IN_PROGRESS', 'DONE', 'CLOSED'].includes(project.state))
      return `project ${project.project_key} is ${project.state}: the installation has begun; end it by agreement instead`;
    return undefined;
  },
  async orderFulfillment(db, tenantId, flowId) {
    const left = await db
      .selectFrom('shipments')
      .innerJoin('orders', 'orders.id', 'shipments.order_id')
      .select(['orders.number', 'shipments.state'])
      .where('orders.tenant_id', '=', tenantId)
      .where('orders.flow_id', '=', flowId)
      .where('shipments.state', 'in', ['in_transit', 'delivered'])
      .executeTakeFirst();
    if (left)
      return `order ${left.number} has a shipment ${left.state}: the goods have left; arrange a return instead`;
    return undefined;
  },
  async contractSigning(db, tenantId, flowId) {
    const signed = await db
      .selectFrom('signature_envelopes')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('flow_id', '=', flowId)
      .where('status', '=', 'completed')
      .executeTakeFirst();
    return signed
      ? 'the contract is signed: it can only be ended by agreement, not cancelled here'
      : undefined;
  },
};

export async function cancelRefusal(
  db: Kysely<Database>,
  tenantId: string,
  flow: { id: string; flow_type: string },
): Promise<string | undefined> {
  const own = await RULES[flow.flow_type]?.(db, tenantId, flow.id);
  if (own) return own;
  const children = await db
    .selectFrom('flows')
    .select(['id', 'flow_type'])
    .where('tenant_id', '=', tenantId)
    .where('parent_id', '=', flow.id)
    .where('state', 'not in', ['completed', 'cancelled', 'failed', 'terminated'])
    .execute();
  for (const child of children) {
    const refusal = await cancelRefusal(db, tenantId, child);
    if (refusal) return refusal;
  }
  return undefined;
}
