import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  confirmOnTerms,
  createOrder,
  findOrder,
  invoiceOnTermsPlan,
  planCheckout,
  recordCheckout,
} from '../../db/orders.js';
import { saveCompanyPrice, savePriceBookEntry } from '../../db/prices.js';
import { CompanyId } from '../../domain/company.schema.js';
import { invoicePaymentFlow } from '../../domain/invoice.js';
import { InvoicePaymentInput } from '../../domain/invoice.schema.js';
import {
  CompanyPriceRequest,
  NewOrder,
  PRICE_SOURCES,
  PriceBookEntryRequest,
  Sku,
} from '../../domain/order.schema.js';
import { createStripe } from '../../integrations/payments/stripe.js';
import type { invoicePayment } from '../../workflows/invoicePayment.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { startOrderFulfillment } from '../orderFulfillment.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { FlowStarted, flowStarted, startFlow } from '../startFlow.js';
import { AddressView, changeBy, json } from './shared.js';

const OrderParam = z.object({ orderId: z.uuid() });
export const Order = z
  .object({
    orderId: z.uuid(),
    number: z.string(),
    companyId: z.string(),
    state: z.enum([
      'draft',
      'checkout_open',
      'payment_processing',
      'payment_failed',
      'payment_expired',
      'paid',
      'confirmed',
      'completed',
      'cancelled',
    ]),
    fulfillmentState: z.string().nullable(),
    paymentTerms: z.enum(['prepaid', 'on_terms']),
    currency: z.string(),
    region: z.string().nullable(),
    total: z.number().int(),
    billingContactId: z.uuid(),
    billingAddress: AddressView,
    flowId: z.string().describe('The order’s fulfillment flow, once paid or confirmed'),
    invoice: z
      .object({
        invoiceId: z.uuid(),
        number: z.string().nullable(),
        state: z.string(),
        paid: z.number().int(),
      })
      .nullable(),
    lines: z.array(
      z.object({
        line: z.number().int(),
        sku: z.string(),
        description: z.string(),
        quantity: z.number().int(),
        remaining: z.number().int().describe('Left to ship'),
        unitPrice: z.number().int(),
        priceSource: z.enum(PRICE_SOURCES),
        priceNotes: z.string().nullable(),
        stripePriceId: z.string().nullable(),
      }),
    ),
    createdAt: z.string(),
    paidAt: z.string().nullable(),
  })
  .openapi('Order');
const Checkout = z
  .object({ sessionId: z.string(), url: z.url(), attempt: z.number().int(), amount: z.number().int() })
  .openapi('OrderCheckout');
const refusals = {
  400: { description: 'Invalid request', content: problemContent },
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'Needs the coordinator or finance role', content: problemContent },
  404: { description: 'No such order', content: problemContent },
};

/** Hardware orders: prices, drafts with price snapshots, Stripe Checkout, confirmation on terms, invoices. */
export function registerOrderRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;
  const notFound = (c: Context, orderId: string) =>
    problemJson(c, 404, {
      type: problemType('not-found'),
      title: 'Order not found',
      detail: `No order ${orderId}.`,
    });
  const wrongState = (c: Context, detail: string) =>
    problemJson(c, 409, { type: problemType('conflict'), title: 'Not now', detail });

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/price-book/{sku}',
      tags: ['Orders'],
      summary: 'Sets a price-book entry: global, or for a region (finance)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: {
        params: z.object({ sku: Sku }),
        body: { required: true, content: json(PriceBookEntryRequest) },
      },
      responses: { 204: { description: 'Saved' }, ...refusals },
    }),
    async (c) => {
      await savePriceBookEntry(db, {
        ...changeBy(c),
        sku: c.req.valid('param').sku,
        entry: c.req.valid('json'),
      });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/companies/{companyId}/prices/{sku}',
      tags: ['Orders'],
      summary: 'Sets a company’s agreed price for a SKU (finance); it wins over the price book',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: {
        params: z.object({ companyId: CompanyId, sku: Sku }),
        body: { required: true, content: json(CompanyPriceRequest) },
      },
      responses: { 204: { description: 'Saved' }, ...refusals },
    }),
    async (c) => {
      const { companyId, sku } = c.req.valid('param');
      const saved = await saveCompanyPrice(db, {
        ...changeBy(c),
        companyKey: companyId,
        sku,
        price: c.req.valid('json'),
      });
      if (saved === 'no_company')
        return problemJson(c, 404, {
          type: problemType('not-found'),
          title: 'Company not found',
          detail: `No company ${companyId}.`,
        });
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orders',
      tags: ['Orders'],
      summary:
        'Drafts an order: each line’s price is snapshot with where it came from (coordinator, finance)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: { body: { required: true, content: json(NewOrder) } },
      responses: { 201: { description: 'Drafted', content: json(Order) }, ...refusals },
    }),
    async (c) => {
      const principal = c.get('principal');
      const created = await createOrder(db, {
        ...changeBy(c),
        tenantSlug: principal.tenantSlug,
        order: c.req.valid('json'),
      });
      if ('refused' in created)
        return problemJson(c, 400, {
          type: problemType('validation'),
          title: 'Invalid request',
          detail: `${created.refused.field}: ${created.refused.message}`,
          errors: [created.refused],
        });
      const order = await findOrder(db, principal.tenantId, created.orderId);
      return c.json(Order.parse(order), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/orders/{orderId}',
      tags: ['Orders'],
      summary: 'An order: its lines with price provenance and what is left to ship, its invoice and states',
      security: [{ apiKey: [] }],
      request: { params: OrderParam },
      responses: { 200: { description: 'The order', content: json(Order) }, ...refusals },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const order = await findOrder(db, c.get('principal').tenantId, orderId);
      return order ? c.json(Order.parse(order), 200) : notFound(c, orderId);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orders/{orderId}/checkout',
      tags: ['Orders'],
      summary: 'Opens a Stripe Checkout for a prepaid order, or a new one after a failed or expired payment',
      description:
        'Revalidates every line strictly: a price that changed since the draft, or one not synced to Stripe, ' +
        'refuses the checkout (409) naming each such line; nothing is written. The payment comes by Stripe’s ' +
        'webhook, through the same inbox as invoices.',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: { params: OrderParam },
      responses: {
        201: { description: 'Opened', content: json(Checkout) },
        409: {
          description: 'A line cannot be checked out, or the order is past checkout',
          content: problemContent,
        },
        503: { description: 'Stripe is not configured', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      if (!config.stripe.secretKey)
        return problemJson(c, 503, {
          type: problemType('not-configured'),
          title: 'Stripe is not configured',
          detail: 'STRIPE_SECRET_KEY is not set on the API.',
        });
      const plan = await planCheckout(db, { ...changeBy(c), orderId });
      if (plan === 'not_found') return notFound(c, orderId);
      if ('wrongState' in plan) return wrongState(c, plan.wrongState);
      if ('refused' in plan)
        return problemJson(c, 409, {
          type: problemType('checkout-refused'),
          title: 'The order cannot be checked out',
          detail: plan.refused.map((refusal) => `${refusal.field}: ${refusal.message}`).join('; '),
          errors: plan.refused,
        });
      const stripe = createStripe({ secretKey: config.stripe.secretKey, apiUrl: config.stripe.apiUrl });
      for (const sessionId of plan.openSessions) {
        const open = await stripe.checkout.sessions.retrieve(sessionId);
        if (open.status === 'open') await stripe.checkout.sessions.expire(sessionId);
      }
      const metadata = {
        tenantId: changeBy(c).tenantId,
        invoiceId: plan.invoiceId,
        orderId: plan.orderId,
        flowId: plan.flowId,
      };
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          customer_email: plan.email,
          client_reference_id: plan.orderId,
          line_items: plan.lines.map((line) => ({ price: line.stripePriceId, quantity: line.quantity })),
          metadata,
          payment_intent_data: { metadata },
          success_url: `${config.api.publicUrl}/paid/${encodeURIComponent(plan.number)}`,
        },
        { idempotencyKey: `${plan.flowId}/checkout/${plan.attempt}` },
      );
      const url = session.url ?? '';
      await recordCheckout(db, { ...changeBy(c), plan, session: { id: session.id, url } });
      return c.json({ sessionId: session.id, url, attempt: plan.attempt, amount: plan.total }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orders/{orderId}/confirm',
      tags: ['Orders'],
      summary:
        'Confirms an order on terms: its fulfillment starts, finance invoices it (coordinator, finance)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: { params: OrderParam },
      responses: {
        200: { description: 'Confirmed; the fulfillment flow runs', content: json(FlowStarted) },
        409: { description: 'Not an order on terms, or past confirmation', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const principal = c.get('principal');
      const confirmed = await confirmOnTerms(db, {
        ...changeBy(c),
        orderId,
        tenantSlug: principal.tenantSlug,
      });
      if (confirmed === 'not_found') return notFound(c, orderId);
      if ('wrongState' in confirmed) return wrongState(c, confirmed.wrongState);
      const { flowId, created } = await startOrderFulfillment(deps, confirmed);
      return c.json(flowStarted(flowId, created), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/orders/{orderId}/invoice',
      tags: ['Orders'],
      summary: 'Finance invoices an order on terms: numbered, sent, dunned and credited like every invoice',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: { params: OrderParam },
      responses: {
        200: { description: 'The order’s invoice flow (started now, or before)', content: json(FlowStarted) },
        409: { description: 'Not a confirmed order on terms', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const { orderId } = c.req.valid('param');
      const principal = c.get('principal');
      const order = await invoiceOnTermsPlan(db, principal.tenantId, orderId);
      if (!order) return notFound(c, orderId);
      if (order.payment_terms !== 'on_terms' || !['confirmed', 'completed'].includes(order.state))
        return wrongState(
          c,
          `only a confirmed order on terms is invoiced by finance; this one is ${order.payment_terms}, ${order.state}`,
        );
      const input = InvoicePaymentInput.parse({
        tenantId: principal.tenantId,
        tenantSlug: principal.tenantSlug,
        invoiceKey: order.number,
        title: `Order ${order.number}`,
        customer: { name: order.name, email: order.email },
        currency: order.currency,
        lines: order.lines,
      });
      const { flowId, created } = await startFlow<typeof invoicePayment>(deps, {
        definition: invoicePaymentFlow,
        businessKey: order.number,
        tenantId: principal.tenantId,
        tenantSlug: principal.tenantSlug,
        title: `Order ${order.number}`,
        customer: order.name,
        input,
      });
      return c.json(flowStarted(flowId, created), 200);
    },
  );
}
