import type { Kysely } from 'kysely';
import type { Actor } from '../domain/flow.js';
import { SYSTEM } from '../domain/flow.js';
import { orderFulfillmentFlow } from '../domain/order.js';
import type { NewOrder, PriceSource } from '../domain/order.schema.js';
import { appendEvent } from './events.js';
import { nextDocumentNumber } from './invoices.js';
import { resolvePrice } from './prices.js';
import type { Database } from './schema.js';

/**
 * Hardware orders: the one place an order's state is written, each transition with its event. A draft takes a
 * price snapshot per line (what, at what price, from which rule); checkout revalidates them strictly; payment is
 * recorded on the order's invoice by the Stripe inbox, which then moves the order here.
 */

export type OrderState =
  | 'draft'
  | 'checkout_open'
  | 'payment_processing'
  | 'payment_failed'
  | 'payment_expired'
  | 'paid'
  | 'confirmed'
  | 'completed'
  | 'cancelled';

/** The states from which a (new) checkout may be opened: the first, and the way back from each failure. */
const CHECKOUT_FROM: OrderState[] = ['draft', 'checkout_open', 'payment_failed', 'payment_expired'];

export interface OrderView {
  orderId: string;
  number: string;
  companyId: string;
  state: OrderState;
  fulfillmentState: string | null;
  paymentTerms: 'prepaid' | 'on_terms';
  currency: string;
  region: string | null;
  total: number;
  billingContactId: string;
  billingAddress: { street: string; postcode: string; city: string; country: string };
  flowId: string;
  invoice: { invoiceId: string; number: string | null; state: string; paid: number } | null;
  lines: {
    line: number;
    sku: string;
    description: string;
    quantity: number;
    remaining: number;
    unitPrice: number;
    priceSource: PriceSource;
    priceNotes: string | null;
    stripePriceId: string | null;
  }[];
  createdAt: string;
  paidAt: string | null;
}

type Change = { tenantId: string; actor: Actor; requestId: string };
export type Refusal = { field: string; message: string };

const orderEvent = (
  trx: Kysely<Database>,
  order: { tenant_id: string; number: string; flow_id: string },
  type: string,
  actor: Actor,
  payload: Record<string, unknown>,
  key: string,
) =>
  appendEvent(trx, {
    tenantId: order.tenant_id,
    type,
    actor,
    entity: { type: 'order', id: order.number },
    flowId: order.flow_id,
    payload,
    idempotencyKey: `order/${order.tenant_id}/${order.number}/${key}`,
  });

/** Creates a draft with each line's price snapshot; refuses (naming the field) what the records cannot back. */
export async function createOrder(
  db: Kysely<Database>,
  change: Change & { tenantSlug: string; order: NewOrder },
): Promise<{ orderId: string } | { refused: Refusal }> {
  const { order } = change;
  return db.transaction().execute(async (trx) => {
    const company = await trx
      .selectFrom('companies')
      .select(['id', 'name'])
      .where('tenant_id', '=', change.tenantId)
      .where('company_key', '=', order.companyId)
      .executeTakeFirst();
    if (!company) return { refused: { field: 'body.companyId', message: `no company ${order.companyId}` } };
    const contact = await trx
      .selectFrom('company_contacts')
      .select('id')
      .where('tenant_id', '=', change.tenantId)
      .where('company_id', '=', company.id)
      .where('id', '=', order.billingContactId)
      .executeTakeFirst();
    if (!contact)
      return { refused: { field: 'body.billingContactId', message: 'not a contact of the company' } };
    let addresses = trx
      .selectFrom('company_addresses')
      .select(['street', 'postcode', 'city', 'country'])
      .where('tenant_id', '=', change.tenantId)
      .where('company_id', '=', company.id);
    addresses = order.billingAddressId
      ? addresses.where('id', '=', order.billingAddressId)
      : addresses.where('default_billing', '=', true);
    const address = await addresses.executeTakeFirst();
    if (!address)
      return {
        refused: {
          field: 'body.billingAddressId',
          message: order.billingAddressId
            ? 'not an address of the company'
            : 'the company has no default billing address: name one',
        },
      };
    const region = order.region ?? '';
    const lines = [];
    for (const [position, line] of order.lines.entries()) {
      const price = line.bespoke
        ? {
            source: 'bespoke' as const,
            description: line.bespoke.description,
            unitPrice: line.bespoke.unitPrice,
            stripePriceId: line.bespoke.stripePriceId ?? null,
            notes: line.bespoke.notes,
          }
        : await resolvePrice(trx, {
            tenantId: change.tenantId,
            companyId: company.id,
            region,
            currency: order.currency,
            sku: line.sku,
          });
      if (!price)
        return {
          refused: {
            field: `body.lines.${position}.sku`,
            message: `no price for ${line.sku} in ${order.currency}: add it to the price book or give a bespoke price`,
          },
        };
      lines.push({ position, line, price });
    }
    const total = lines.reduce((sum, { line, price }) => sum + line.quantity * price.unitPrice, 0);
    const number = await nextDocumentNumber(trx, change.tenantId, 'ORD', new Date().getUTCFullYear());
    const flowId = orderFulfillmentFlow.flowId(change.tenantSlug, number);
    const created = await trx
      .insertInto('orders')
      .values({
        tenant_id: change.tenantId,
        number,
        company_id: company.id,
        billing_contact_id: contact.id,
        billing_address: JSON.stringify(address),
        region,
        currency: order.currency,
        payment_terms: order.paymentTerms,
        total,
        flow_id: flowId,
      })
      .returning(['id', 'tenant_id', 'number', 'flow_id'])
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('order_lines')
      .values(
        lines.map(({ position, line, price }) => ({
          tenant_id: change.tenantId,
          order_id: created.id,
          position,
          sku: line.sku,
          description: price.description,
          quantity: line.quantity,
          unit_price: price.unitPrice,
          price_source: price.source,
          price_notes: price.notes,
          stripe_price_id: price.stripePriceId,
        })),
      )
      .execute();
    await orderEvent(
      trx,
      created,
      'order.drafted',
      change.actor,
      {
        companyId: order.companyId,
        total,
        currency: order.currency,
        paymentTerms: order.paymentTerms,
        lines: lines.map(({ line, price }) => ({ sku: line.sku, quantity: line.quantity, ...price })),
      },
      'drafted',
    );
    return { orderId: created.id };
  });
}

export async function findOrder(
  db: Kysely<Database>,
  tenantId: string,
  orderId: string,
): Promise<OrderView | undefined> {
  const order = await db
    .selectFrom('orders')
    .innerJoin('companies', 'companies.id', 'orders.company_id')
    .selectAll('orders')
    .select('companies.company_key')
    .where('orders.tenant_id', '=', tenantId)
    .where('orders.id', '=', orderId)
    .executeTakeFirst();
  if (!order) return undefined;
  const lines = await db
    .selectFrom('order_lines')
    .leftJoin('fulfillment_items', (join) =>
      join
        .onRef('fulfillment_items.order_id', '=', 'order_lines.order_id')
        .onRef('fulfillment_items.position', '=', 'order_lines.position'),
    )
    .selectAll('order_lines')
    .select('fulfillment_items.remaining')
    .where('order_lines.order_id', '=', orderId)
    .orderBy('order_lines.position')
    .execute();
  const invoice = await orderInvoice(db, tenantId, order.number);
  return {
    orderId: order.id,
    number: order.number,
    companyId: order.company_key,
    state: order.state as OrderState,
    fulfillmentState: order.fulfillment_state,
    paymentTerms: order.payment_terms as OrderView['paymentTerms'],
    currency: order.currency,
    region: order.region || null,
    total: Number(order.total),
    billingContactId: order.billing_contact_id,
    billingAddress: order.billing_address,
    flowId: order.flow_id,
    invoice: invoice
      ? {
          invoiceId: invoice.id,
          number: invoice.number,
          state: invoice.state,
          paid: Number(invoice.paid) - Number(invoice.refunded),
        }
      : null,
    lines: lines.map((line) => ({
      line: line.position,
      sku: line.sku,
      description: line.description,
      quantity: line.quantity,
      remaining: line.remaining ?? line.quantity,
      unitPrice: Number(line.unit_price),
      priceSource: line.price_source as PriceSource,
      priceNotes: line.price_notes,
      stripePriceId: line.stripe_price_id,
    })),
    createdAt: order.created_at.toISOString(),
    paidAt: order.paid_at?.toISOString() ?? null,
  };
}

/** The order, locked for the transaction's write: transitions of one order happen one at a time. */
export const lockOrder = (trx: Kysely<Database>, tenantId: string, orderId: string) =>
  trx
    .selectFrom('orders')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', orderId)
    .forUpdate()
    .executeTakeFirst();

/** The order's invoice (keyed by the order's number), prepaid or on terms. */
const orderInvoice = (db: Kysely<Database>, tenantId: string, number: string) =>
  db
    .selectFrom('invoices')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('invoice_key', '=', number)
    .executeTakeFirst();

export interface CheckoutPlan {
  orderId: string;
  number: string;
  flowId: string;
  invoiceId: string;
  attempt: number;
  total: number;
  currency: string;
  email: string;
  lines: { stripePriceId: string; quantity: number }[];
  /** Earlier sessions still open: they are closed before the new one is opened. */
  openSessions: string[];
}

/**
 * Prepares a (new) Stripe Checkout for a prepaid order: every line's snapshot must still be what the price rules
 * give now, and synced to Stripe; a line that is not is named and nothing is written. The order's invoice is
 * drafted with the lines (it is numbered when paid), and the attempt counted.
 */
export async function planCheckout(
  db: Kysely<Database>,
  change: Change & { orderId: string },
): Promise<CheckoutPlan | { refused: Refusal[] } | 'not_found' | { wrongState: string }> {
  return db.transaction().execute(async (trx) => {
    const order = await lockOrder(trx, change.tenantId, change.orderId);
    if (!order) return 'not_found';
    if (order.payment_terms !== 'prepaid')
      return { wrongState: 'an order on terms is confirmed, not paid at checkout' };
    if (!CHECKOUT_FROM.includes(order.state as OrderState))
      return { wrongState: `the order is ${order.state}` };
    const lines = await trx
      .selectFrom('order_lines')
      .selectAll()
      .where('tenant_id', '=', order.tenant_id)
      .where('order_id', '=', order.id)
      .orderBy('position')
      .execute();
    const refused: Refusal[] = [];
    for (const line of lines) {
      const field = `lines.${line.position}`;
      if (line.price_source !== 'bespoke') {
        const now = await resolvePrice(trx, {
          tenantId: order.tenant_id,
          companyId: order.company_id,
          region: order.region,
          currency: order.currency,
          sku: line.sku,
        });
        if (!now || now.source !== line.price_source || now.unitPrice !== Number(line.unit_price)) {
          refused.push({
            field,
            message: `${line.sku}: the price changed since the order was drafted (${line.price_source} ${line.unit_price}, now ${now ? `${now.source} ${now.unitPrice}` : 'none'}): draft the order again`,
          });
          continue;
        }
      }
      if (!line.stripe_price_id)
        refused.push({
          field,
          message: `${line.sku}: its price is not synced to Stripe (no Stripe price id)`,
        });
    }
    if (refused.length > 0) return { refused };
    const contact = await trx
      .selectFrom('company_contacts')
      .innerJoin('companies', 'companies.id', 'company_contacts.company_id')
      .select(['company_contacts.email', 'companies.name'])
      .where('company_contacts.id', '=', order.billing_contact_id)
      .executeTakeFirstOrThrow();
    let invoice = await orderInvoice(trx, order.tenant_id, order.number);
    if (!invoice) {
      invoice = await trx
        .insertInto('invoices')
        .values({
          tenant_id: order.tenant_id,
          invoice_key: order.number,
          flow_id: order.flow_id,
          state: 'DRAFT',
          currency: order.currency,
          total: order.total,
          customer_name: contact.name,
          customer_email: contact.email,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx
        .insertInto('invoice_lines')
        .values(
          lines.map((line) => ({
            invoice_id: invoice?.id ?? '',
            position: line.position,
            description: line.description,
            quantity: line.quantity,
            unit_price: line.unit_price,
            amount: line.quantity * Number(line.unit_price),
          })),
        )
        .execute();
    }
    const attempt = order.checkout_attempt + 1;
    await trx
      .updateTable('orders')
      .set({ state: 'checkout_open', checkout_attempt: attempt, updated_at: new Date() })
      .where('id', '=', order.id)
      .execute();
    const open = await trx
      .selectFrom('checkout_sessions')
      .select('id')
      .where('tenant_id', '=', order.tenant_id)
      .where('invoice_id', '=', invoice.id)
      .where('status', '=', 'open')
      .execute();
    return {
      orderId: order.id,
      number: order.number,
      flowId: order.flow_id,
      invoiceId: invoice.id,
      attempt,
      total: Number(order.total),
      currency: order.currency,
      email: contact.email,
      lines: lines.map((line) => ({ stripePriceId: line.stripe_price_id ?? '', quantity: line.quantity })),
      openSessions: open.map((session) => session.id),
    };
  });
}

/** Records the Checkout Session Stripe opened for an attempt (and closes, in the records, those it replaced). */
export async function recordCheckout(
  db: Kysely<Database>,
  change: Change & { plan: CheckoutPlan; session: { id: string; url: string } },
): Promise<void> {
  const { plan, session } = change;
  await db.transaction().execute(async (trx) => {
    if (plan.openSessions.length > 0)
      await trx
        .updateTable('checkout_sessions')
        .set({ status: 'expired' })
        .where('id', 'in', plan.openSessions)
        .where('status', '=', 'open')
        .execute();
    await trx
      .insertInto('checkout_sessions')
      .values({
        id: session.id,
        tenant_id: change.tenantId,
        invoice_id: plan.invoiceId,
        attempt: plan.attempt,
        amount: plan.total,
        url: session.url,
        status: 'open',
      })
      .onConflict((oc) => oc.columns(['invoice_id', 'attempt']).doNothing())
      .execute();
    await orderEvent(
      trx,
      { tenant_id: change.tenantId, number: plan.number, flow_id: plan.flowId },
      'order.checkout.opened',
      change.actor,
      { sessionId: session.id, attempt: plan.attempt, amount: plan.total, replaced: plan.openSessions },
      `checkout/${plan.attempt}`,
    );
  });
}

/** An order whose fulfillment is to start: paid at checkout, or confirmed on terms. */
export interface OrderToFulfil {
  tenantId: string;
  tenantSlug: string;
  orderId: string;
  orderNumber: string;
}

/**
 * What Stripe reported about an order's checkout, in the inbox's transaction: a payment recorded on its invoice
 * (the order is paid once the invoice is; the invoice is numbered then), a payment still processing, failed, or a
 * session that expired unpaid. Only ever forward: a late `expired` does not undo a payment.
 */
export async function orderCheckoutChanged(
  trx: Kysely<Database>,
  news: {
    tenantId: string;
    orderId: string;
    sessionId: string;
    change: 'paid' | 'processing' | 'failed' | 'expired';
    at: Date;
    actor: Actor;
  },
): Promise<OrderToFulfil | undefined> {
  const order = await trx
    .selectFrom('orders')
    .innerJoin('tenants', 'tenants.id', 'orders.tenant_id')
    .selectAll('orders')
    .select('tenants.slug')
    .where('orders.tenant_id', '=', news.tenantId)
    .where('orders.id', '=', news.orderId)
    .forUpdate()
    .executeTakeFirst();
  if (!order) return undefined;
  const state = order.state as OrderState;
  const session = { sessionId: news.sessionId };
  const move = async (to: OrderState, event: string, from: OrderState[]) => {
    if (!from.includes(state)) return false;
    await trx
      .updateTable('orders')
      .set({ state: to, updated_at: new Date(), ...(to === 'paid' ? { paid_at: news.at } : {}) })
      .where('id', '=', order.id)
      .execute();
    await orderEvent(trx, order, event, news.actor, session, `${event}/${news.sessionId}`);
    return true;
  };
  const unpaid: OrderState[] = ['checkout_open', 'payment_processing', 'payment_failed', 'payment_expired'];
  if (news.change === 'processing')
    await move('payment_processing', 'order.payment.processing', ['checkout_open']);
  if (news.change === 'failed')
    await move('payment_failed', 'order.payment.failed', ['checkout_open', 'payment_processing']);
  if (news.change === 'expired') {
    const current = await trx
      .selectFrom('checkout_sessions')
      .select('attempt')
      .where('id', '=', news.sessionId)
      .executeTakeFirst();
    if (current?.attempt === order.checkout_attempt)
      await move('payment_expired', 'order.payment.expired', ['checkout_open']);
  }
  if (news.change !== 'paid') return undefined;
  const invoice = await orderInvoice(trx, order.tenant_id, order.number);
  if (!invoice || Number(invoice.paid) - Number(invoice.refunded) < Number(invoice.total)) return undefined;
  if (!invoice.number) {
    const number = await nextDocumentNumber(trx, order.tenant_id, 'INV', news.at.getUTCFullYear());
    await trx
      .updateTable('invoices')
      .set({ number, issued_at: news.at, due_at: news.at, updated_at: new Date() })
      .where('id', '=', invoice.id)
      .execute();
    await appendEvent(trx, {
      tenantId: order.tenant_id,
      type: 'invoice.issued',
      actor: SYSTEM,
      entity: { type: 'invoice', id: number },
      flowId: order.flow_id,
      payload: {
        invoiceId: invoice.id,
        number,
        total: Number(invoice.total),
        currency: invoice.currency,
        prepaid: true,
        order: order.number,
      },
      idempotencyKey: `${order.flow_id}/invoice.issued`,
    });
  }
  if (!(await move('paid', 'order.paid', unpaid))) return undefined;
  return { tenantId: order.tenant_id, tenantSlug: order.slug, orderId: order.id, orderNumber: order.number };
}

/** An order on terms goes to fulfillment without paying first: finance invoices it. */
export async function confirmOnTerms(
  db: Kysely<Database>,
  change: Change & { orderId: string; tenantSlug: string },
): Promise<OrderToFulfil | 'not_found' | { wrongState: string }> {
  return db.transaction().execute(async (trx) => {
    const order = await lockOrder(trx, change.tenantId, change.orderId);
    if (!order) return 'not_found';
    if (order.payment_terms !== 'on_terms') return { wrongState: 'a prepaid order is paid at checkout' };
    const fulfil = {
      tenantId: order.tenant_id,
      tenantSlug: change.tenantSlug,
      orderId: order.id,
      orderNumber: order.number,
    };
    if (order.state === 'confirmed') return fulfil;
    if (order.state !== 'draft') return { wrongState: `the order is ${order.state}` };
    await trx
      .updateTable('orders')
      .set({ state: 'confirmed', updated_at: new Date() })
      .where('id', '=', order.id)
      .execute();
    await orderEvent(trx, order, 'order.confirmed', change.actor, { paymentTerms: 'on_terms' }, 'confirmed');
    return fulfil;
  });
}

/** What finance's invoice for an order on terms is made of. */
export async function invoiceOnTermsPlan(db: Kysely<Database>, tenantId: string, orderId: string) {
  const order = await db
    .selectFrom('orders')
    .innerJoin('company_contacts', 'company_contacts.id', 'orders.billing_contact_id')
    .innerJoin('companies', 'companies.id', 'orders.company_id')
    .select([
      'orders.number',
      'orders.state',
      'orders.payment_terms',
      'orders.currency',
      'company_contacts.email',
      'companies.name',
    ])
    .where('orders.tenant_id', '=', tenantId)
    .where('orders.id', '=', orderId)
    .executeTakeFirst();
  if (!order) return undefined;
  const lines = await db
    .selectFrom('order_lines')
    .select(['description', 'quantity', 'unit_price'])
    .where('tenant_id', '=', tenantId)
    .where('order_id', '=', orderId)
    .orderBy('position')
    .execute();
  return {
    ...order,
    lines: lines.map((line) => ({
      description: line.description,
      quantity: line.quantity,
      unitPrice: Number(line.unit_price),
    })),
  };
}
