import { formatMoney } from '../domain/money.js';
import type { Db } from './client.js';

/**
 * What a flow left open in the world when it stopped without compensating (terminated in Temporal): envelopes
 * the customer can still sign, invoices and payment links still payable, orders still with a supplier. Each is a
 * sentence a person can act on.
 */
export async function leftOpenBy(db: Db, tenantId: string, flowId: string): Promise<string[]> {
  const [envelopes, invoices, orders] = await Promise.all([
    db
      .selectFrom('signature_envelopes')
      .innerJoin('contracts', 'contracts.id', 'signature_envelopes.contract_id')
      .select([
        'signature_envelopes.id',
        'contracts.contract_key',
        'signature_envelopes.contract_version',
        'signature_envelopes.expires_at',
      ])
      .where('signature_envelopes.tenant_id', '=', tenantId)
      .where('signature_envelopes.flow_id', '=', flowId)
      .where('signature_envelopes.status', '=', 'sent')
      .execute(),
    db
      .selectFrom('invoices')
      .leftJoin('checkout_sessions', (join) =>
        join
          .onRef('checkout_sessions.invoice_id', '=', 'invoices.id')
          .on('checkout_sessions.status', '=', 'open'),
      )
      .select([
        'invoices.number',
        'invoices.total',
        'invoices.paid',
        'invoices.currency',
        'checkout_sessions.id as session',
      ])
      .where('invoices.tenant_id', '=', tenantId)
      .where('invoices.flow_id', '=', flowId)
      .where('invoices.number', 'is not', null)
      .where('invoices.state', 'not in', ['PAID', 'CANCELLED'])
      .execute(),
    db
      .selectFrom('supplier_orders')
      .innerJoin('suppliers', 'suppliers.id', 'supplier_orders.supplier_id')
      .select(['supplier_orders.order_key', 'supplier_orders.state', 'suppliers.code'])
      .where('supplier_orders.tenant_id', '=', tenantId)
      .where('supplier_orders.flow_id', '=', flowId)
      .where('supplier_orders.state', 'not in', ['RECEIVED', 'CANCELLED'])
      .execute(),
  ]);
  return [
    ...envelopes.map(
      (e) =>
        `signature envelope ${e.id} for contract ${e.contract_key} v${e.contract_version}, signable until ${e.expires_at.toISOString()}`,
    ),
    ...invoices.map(
      (i) =>
        `invoice ${i.number}, ${formatMoney(Number(i.paid), i.currency)} of ${formatMoney(Number(i.total), i.currency)} paid${i.session ? `, payment link ${i.session} still payable` : ''}`,
    ),
    ...orders.map((o) => `supplier order ${o.order_key} with ${o.code}, ${o.state}`),
  ];
}
