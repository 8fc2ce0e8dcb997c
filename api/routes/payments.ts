import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import {
  applyUnappliedPayment,
  type PaymentNews,
  type RecordedPayment,
  recordPayment,
  refundUnappliedPayment,
} from '../../db/payments.js';
import { paymentReceived } from '../../domain/invoice.js';
import { UNAPPLIED_REASON_TEXT, type UNAPPLIED_REASONS } from '../../domain/payment.js';
import { Currency } from '../../domain/proposal.js';
import { createStripe } from '../../integrations/payments/stripe.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { invoiceView, paymentViews } from './paymentViews.js';
import { actorOf, signalIfRunning } from './shared.js';

const InvoiceNumber = z
  .string()
  .regex(/^INV-\d{4}-\d{6}$/, { error: 'must be an invoice number such as INV-2026-000001' });

const ManualPayment = z
  .object({
    amount: z.number().int().positive().max(1e12).describe('In minor units (cents)'),
    currency: Currency,
    reference: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .describe('The bank transfer reference; a reference is recorded once'),
    receivedAt: z.iso.datetime().optional(),
  })
  .openapi('ManualPayment');

const PaymentResult = z
  .object({
    paymentId: z.string(),
    duplicate: z.boolean(),
    paid: z.number().optional(),
    total: z.number().optional(),
  })
  .openapi('PaymentResult');

const Resolution = z
  .object({ note: z.string().trim().min(1).max(500).optional() })
  .openapi('PaymentResolution');
const Application = Resolution.extend({ invoiceNumber: InvoiceNumber }).openapi('PaymentApplication');
const PaymentId = z.object({ paymentId: z.uuid() });

/**
 * Tells the invoice's flow its money changed: the payment's id, from which it reads the facts itself. The
 * amount goes along only for flows of builds before flowdesk-3, which counted it as it came.
 */
export async function tellInvoiceFlow(
  deps: Pick<ApiDeps, 'db' | 'temporal'>,
  news: Pick<PaymentNews, 'flowId' | 'paymentId'> & Partial<PaymentNews>,
): Promise<void> {
  const told =
    news.amount !== undefined && news.source && news.receivedAt
      ? { amount: news.amount, source: news.source, receivedAt: news.receivedAt }
      : await deps.db
          .selectFrom('payments')
          .select(['amount', 'source', 'received_at'])
          .where('id', '=', news.paymentId)
          .executeTakeFirstOrThrow()
          .then((row) => ({
            amount: Number(row.amount),
            source: row.source as PaymentNews['source'],
            receivedAt: row.received_at.toISOString(),
          }));
  await signalIfRunning(deps, news.flowId, paymentReceived, {
    paymentId: news.paymentId,
    amount: told.amount,
    source: told.source,
    occurredAt: told.receivedAt,
  });
}

const refusalDetail = (reason: (typeof UNAPPLIED_REASONS)[number]) =>
  `The payment cannot be applied: ${UNAPPLIED_REASON_TEXT[reason]}.`;

function paymentProblem(c: Context, outcome: 'not_found' | 'not_unapplied') {
  return outcome === 'not_found'
    ? problemJson(c, 404, {
        type: problemType('not-found'),
        title: 'Payment not found',
        detail: 'No such payment.',
      })
    : problemJson(c, 409, {
        type: problemType('payment-settled'),
        title: 'Payment is not unapplied',
        detail: 'Only an unapplied payment can be applied or refunded here.',
      });
}

export function registerPaymentRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;
  const invoiceIdOf = async (tenantId: string, number: string) =>
    (
      await db
        .selectFrom('invoices')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('number', '=', number)
        .executeTakeFirst()
    )?.id;
  const noInvoice = (c: Context, number: string) =>
    problemJson(c, 404, {
      type: problemType('not-found'),
      title: 'Invoice not found',
      detail: `No invoice ${number}.`,
    });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/invoices/{number}/payments',
      tags: ['Payments'],
      summary: 'Record a payment received by bank transfer (finance)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: {
        params: z.object({ number: InvoiceNumber }),
        body: { required: true, content: { 'application/json': { schema: ManualPayment } } },
      },
      responses: {
        201: { description: 'Recorded', content: { 'application/json': { schema: PaymentResult } } },
        200: {
          description: 'This reference was already recorded; nothing changed',
          content: { 'application/json': { schema: PaymentResult } },
        },
        400: { description: 'Invalid request', content: problemContent },
        403: { description: 'Needs the finance role', content: problemContent },
        404: { description: 'No such invoice', content: problemContent },
        409: { description: 'Currency mismatch or cancelled invoice', content: problemContent },
      },
    }),
    async (c) => {
      const { number } = c.req.valid('param');
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const invoiceId = await invoiceIdOf(principal.tenantId, number);
      if (!invoiceId) return noInvoice(c, number);
      // Typed in by finance: a payment that does not fit is refused, not held.
      const result: RecordedPayment = await db.transaction().execute((trx) =>
        recordPayment(
          trx,
          {
            tenantId: principal.tenantId,
            invoiceId,
            source: 'bank_transfer',
            externalId: `${principal.tenantId}/${body.reference}`,
            amount: body.amount,
            currency: body.currency,
            receivedAt: body.receivedAt ? new Date(body.receivedAt) : new Date(),
            actor: actorOf(principal),
          },
          { refuse: true },
        ),
      );
      if (result.outcome === 'refused')
        return problemJson(c, 409, {
          type: problemType('payment-refused'),
          title: 'Payment not recorded',
          detail: refusalDetail(result.reason),
        });
      if (result.outcome === 'applied') {
        await tellInvoiceFlow(deps, { flowId: result.flowId, paymentId: result.paymentId });
        return c.json(
          { paymentId: result.paymentId, duplicate: false, paid: result.paid, total: result.total },
          201,
        );
      }
      if (result.outcome === 'duplicate' && result.flowId)
        await tellInvoiceFlow(deps, { flowId: result.flowId, paymentId: result.paymentId });
      return c.json({ paymentId: 'paymentId' in result ? result.paymentId : '', duplicate: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/invoices/{number}',
      tags: ['Payments'],
      summary: 'An invoice with its money: paid, refunded, balance, payments, refunds and disputes',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance', 'coordinator')] as const,
      request: { params: z.object({ number: InvoiceNumber }) },
      responses: {
        200: { description: 'The invoice', content: { 'application/json': { schema: z.looseObject({}) } } },
        404: { description: 'No such invoice', content: problemContent },
      },
    }),
    async (c) => {
      const { number } = c.req.valid('param');
      const view = await invoiceView(db, c.get('principal').tenantId, number);
      return view ? c.json(view, 200) : noInvoice(c, number);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/payments',
      tags: ['Payments'],
      summary: 'Payments, with their refunds and disputes; `state=unapplied` is what waits for finance',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: {
        query: z.object({
          state: z.enum(['applied', 'unapplied', 'refunded']).optional(),
          limit: z.coerce.number().int().min(1).max(200).default(50),
        }),
      },
      responses: {
        200: { description: 'Newest first', content: { 'application/json': { schema: z.looseObject({}) } } },
      },
    }),
    async (c) => {
      const { state, limit } = c.req.valid('query');
      return c.json({ payments: await paymentViews(db, c.get('principal').tenantId, { state, limit }) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/payments/{paymentId}/apply',
      tags: ['Payments'],
      summary: 'Apply an unapplied payment to an invoice of the same currency (finance)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: {
        params: PaymentId,
        body: { required: true, content: { 'application/json': { schema: Application } } },
      },
      responses: {
        200: { description: 'Applied', content: { 'application/json': { schema: PaymentResult } } },
        404: { description: 'No such payment or invoice', content: problemContent },
        409: { description: 'Not unapplied, or it does not fit that invoice', content: problemContent },
      },
    }),
    async (c) => {
      const { paymentId } = c.req.valid('param');
      const { invoiceNumber, note } = c.req.valid('json');
      const principal = c.get('principal');
      const invoiceId = await invoiceIdOf(principal.tenantId, invoiceNumber);
      if (!invoiceId) return noInvoice(c, invoiceNumber);
      const result = await db.transaction().execute((trx) =>
        applyUnappliedPayment(trx, {
          tenantId: principal.tenantId,
          paymentId,
          invoiceId,
          actor: actorOf(principal),
          note,
        }),
      );
      if (result.outcome === 'refused')
        return problemJson(c, 409, {
          type: problemType('payment-refused'),
          title: 'Payment not applied',
          detail: refusalDetail(result.reason),
        });
      if (result.outcome !== 'applied') return paymentProblem(c, result.outcome);
      await tellInvoiceFlow(deps, { flowId: result.flowId, paymentId: result.paymentId });
      return c.json({ paymentId, duplicate: false, paid: result.paid, total: result.total }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/payments/{paymentId}/refund',
      tags: ['Payments'],
      summary:
        'Refund an unapplied payment: through Stripe for a card payment, on record for a bank transfer',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: {
        params: PaymentId,
        body: { required: true, content: { 'application/json': { schema: Resolution } } },
      },
      responses: {
        200: { description: 'Refunded', content: { 'application/json': { schema: z.looseObject({}) } } },
        404: { description: 'No such payment', content: problemContent },
        409: { description: 'Not unapplied', content: problemContent },
        503: { description: 'Stripe is not configured', content: problemContent },
      },
    }),
    async (c) => {
      const { paymentId } = c.req.valid('param');
      const { note } = c.req.valid('json');
      const principal = c.get('principal');
      const payment = await db
        .selectFrom('payments')
        .select(['state', 'source', 'payment_intent'])
        .where('id', '=', paymentId)
        .where('tenant_id', '=', principal.tenantId)
        .executeTakeFirst();
      if (!payment) return paymentProblem(c, 'not_found');
      if (payment.state !== 'unapplied') return paymentProblem(c, 'not_unapplied');
      let stripeRefundId: string | undefined;
      if (payment.source === 'stripe' && payment.payment_intent) {
        if (!config.stripe.secretKey)
          return problemJson(c, 503, {
            type: problemType('not-configured'),
            title: 'Stripe is not configured',
            detail: 'STRIPE_SECRET_KEY is not set on the API.',
          });
        const stripe = createStripe({ secretKey: config.stripe.secretKey, apiUrl: config.stripe.apiUrl });
        const refund = await stripe.refunds.create(
          { payment_intent: payment.payment_intent, metadata: { tenantId: principal.tenantId, paymentId } },
          { idempotencyKey: `refund/${paymentId}` },
        );
        stripeRefundId = refund.id;
      }
      const result = await db.transaction().execute((trx) =>
        refundUnappliedPayment(trx, {
          tenantId: principal.tenantId,
          paymentId,
          actor: actorOf(principal),
          note,
          stripeRefundId,
        }),
      );
      if (result.outcome !== 'refunded') return paymentProblem(c, result.outcome);
      return c.json({ paymentId, state: 'refunded', stripeRefundId: stripeRefundId ?? null }, 200);
    },
  );
}
