import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { html } from 'hono/html';
import { isPayToken } from '../../integrations/payments/payLink.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { HtmlPage, page } from '../pages.js';

/** Where the customer's payment link leads, and where Stripe sends them back. */
export function registerPaymentPages(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/pay/{invoiceId}',
      tags: ['Customer pages'],
      summary: 'The customer’s payment link: leads to the invoice’s current Stripe Checkout Session',
      request: {
        params: z.object({ invoiceId: z.uuid() }),
        query: z.object({ token: z.string().min(1).max(100) }),
      },
      responses: {
        303: {
          description: 'To the open Checkout Session for the balance',
          headers: {
            Location: { description: 'The Stripe Checkout Session’s URL', schema: { type: 'string' } },
          },
        },
        200: { description: 'The invoice is already paid', content: HtmlPage },
        403: { description: 'The link was altered', content: HtmlPage },
        404: { description: 'No such invoice', content: HtmlPage },
        410: { description: 'The invoice was cancelled', content: HtmlPage },
        503: { description: 'A new session is being opened; try again shortly', content: HtmlPage },
      },
    }),
    async (c) => {
      const { invoiceId } = c.req.valid('param');
      const { token } = c.req.valid('query');
      if (!config.signingSecret || !isPayToken(config.signingSecret, invoiceId, token)) {
        return page(
          c,
          403,
          'This payment link is not valid',
          html`<p>Please use the link from our email.</p>`,
        );
      }
      const invoice = await db
        .selectFrom('invoices')
        .select(['number', 'state'])
        .where('id', '=', invoiceId)
        .executeTakeFirst();
      if (!invoice) return page(c, 404, 'Unknown invoice', html`<p>We could not find this invoice.</p>`);
      if (invoice.state === 'PAID') {
        return page(c, 200, 'Already paid', html`<p>Invoice ${invoice.number} is paid. Thank you.</p>`);
      }
      if (invoice.state === 'CANCELLED') {
        return page(c, 410, 'Invoice cancelled', html`<p>Invoice ${invoice.number} was cancelled.</p>`);
      }
      const session = await db
        .selectFrom('checkout_sessions')
        .select('url')
        .where('invoice_id', '=', invoiceId)
        .where('status', '=', 'open')
        .orderBy('attempt', 'desc')
        .executeTakeFirst();
      if (!session) {
        c.header('retry-after', '60');
        return page(
          c,
          503,
          'Preparing your payment page',
          html`<p>We are opening a new payment page for invoice ${invoice.number}. Please try again in a minute.</p>`,
        );
      }
      return c.redirect(session.url, 303);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/paid/{number}',
      tags: ['Customer pages'],
      summary: 'Where Stripe sends the customer after paying',
      request: { params: z.object({ number: z.string().max(40) }) },
      responses: { 200: { description: 'Thank you', content: HtmlPage } },
    }),
    (c) =>
      page(
        c,
        200,
        'Thank you for your payment',
        html`<p>We will confirm the payment of invoice ${c.req.valid('param').number} by email.</p>`,
      ),
  );
}
