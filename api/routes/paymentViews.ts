import type { Db } from '../../db/client.js';

/** What finance reads of a payment: its money, why it waits (if it does), and its refunds and disputes. */
export async function paymentViews(
  db: Db,
  tenantId: string,
  filter: { state?: 'applied' | 'unapplied' | 'refunded'; invoiceId?: string; limit: number },
) {
  let query = db
    .selectFrom('payments')
    .leftJoin('invoices', 'invoices.id', 'payments.invoice_id')
    .select([
      'payments.id',
      'payments.state',
      'payments.unapplied_reason',
      'payments.source',
      'payments.external_id',
      'payments.payment_intent',
      'payments.amount',
      'payments.currency',
      'payments.refunded',
      'payments.disputed',
      'payments.received_at',
      'payments.resolved_by',
      'invoices.number',
    ])
    .where('payments.tenant_id', '=', tenantId)
    .orderBy('payments.created_at', 'desc')
    .limit(filter.limit);
  if (filter.state) query = query.where('payments.state', '=', filter.state);
  if (filter.invoiceId) query = query.where('payments.invoice_id', '=', filter.invoiceId);
  const payments = await query.execute();
  const events =
    payments.length === 0
      ? []
      : await db
          .selectFrom('money_events')
          .select([
            'payment_id',
            'kind',
            'external_id',
            'amount',
            'currency',
            'status',
            'reason',
            'occurred_at',
          ])
          .where('tenant_id', '=', tenantId)
          .where(
            'payment_id',
            'in',
            payments.map((payment) => payment.id),
          )
          .orderBy('occurred_at')
          .execute();
  return payments.map((payment) => ({
    paymentId: payment.id,
    state: payment.state,
    reason: payment.unapplied_reason,
    invoiceNumber: payment.number,
    source: payment.source,
    externalId: payment.external_id,
    paymentIntent: payment.payment_intent,
    amount: Number(payment.amount),
    currency: payment.currency,
    refunded: Number(payment.refunded),
    disputed: Number(payment.disputed),
    receivedAt: payment.received_at.toISOString(),
    resolvedBy: payment.resolved_by,
    refunds: events
      .filter((event) => event.payment_id === payment.id && event.kind === 'refund')
      .map(({ external_id, amount, status, occurred_at }) => ({
        id: external_id,
        refundedSoFar: Number(amount),
        status,
        occurredAt: occurred_at.toISOString(),
      })),
    disputes: events
      .filter((event) => event.payment_id === payment.id && event.kind === 'dispute')
      .map(({ external_id, amount, status, reason, occurred_at }) => ({
        id: external_id,
        amount: Number(amount),
        status,
        reason,
        occurredAt: occurred_at.toISOString(),
      })),
  }));
}

/** An invoice with its money: the balance counts refunds, and every payment shows its refunds and disputes. */
export async function invoiceView(db: Db, tenantId: string, number: string) {
  const invoice = await db
    .selectFrom('invoices')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('number', '=', number)
    .executeTakeFirst();
  if (!invoice) return undefined;
  const total = Number(invoice.total);
  const paid = Number(invoice.paid);
  const refunded = Number(invoice.refunded);
  const payments = await paymentViews(db, tenantId, { invoiceId: invoice.id, limit: 200 });
  return {
    number,
    state: invoice.state,
    currency: invoice.currency,
    total,
    paid,
    refunded,
    balance: invoice.state === 'CANCELLED' ? 0 : total - paid + refunded,
    disputed: payments.reduce((sum, payment) => sum + payment.disputed, 0),
    creditNote: invoice.credit_note_number,
    flowId: invoice.flow_id,
    dueAt: invoice.due_at?.toISOString() ?? null,
    payments,
  };
}
