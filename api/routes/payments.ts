import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Context } from 'hono';
import Stripe from 'stripe';
import type { Db } from '../../db/client.js';
import { appendEvent } from '../../db/events.js';
import { type RecordedPayment, recordPayment } from '../../db/invoices.js';
import { paymentReceived } from '../../domain/invoice.js';
import { Currency } from '../../domain/proposal.js';
import { STRIPE_API_VERSION } from '../../integrations/payments/stripe.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent, problemJson, problemResponse, problemType } from '../problem.js';
import { actorOf } from './shared.js';

const ManualPayment = z
  .object({
    amount: z.number().int().positive().describe('In minor units (cents)'),
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

/** Tells the invoice's flow about a payment that is recorded; the flow counts each payment id once. */
async function notifyFlow(deps: ApiDeps, flowId: string, paymentId: string, db: Db) {
  const payment = await db
    .selectFrom('payments')
    .selectAll()
    .where('id', '=', paymentId)
    .executeTakeFirstOrThrow();
  try {
    await deps.temporal.workflow.getHandle(flowId).signal(paymentReceived, {
      paymentId,
      amount: Number(payment.amount),
      source: payment.source as 'stripe' | 'bank_transfer',
      occurredAt: payment.received_at.toISOString(),
    });
  } catch (error) {
    // A finished flow already has everything it needs; the payment itself is recorded either way.
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

function paymentRefusal(result: Extract<RecordedPayment, { recorded: false }>) {
  if (result.reason === 'duplicate') return undefined;
  const detail = {
    unknown_invoice: 'No such invoice.',
    currency_mismatch: 'The payment’s currency is not the invoice’s.',
    invoice_cancelled: 'The invoice is cancelled.',
  }[result.reason];
  return { status: result.reason === 'unknown_invoice' ? (404 as const) : (409 as const), detail };
}

export function registerPaymentRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/invoices/{number}/payments',
      tags: ['Payments'],
      summary: 'Record a payment received by bank transfer (finance)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('finance')] as const,
      request: {
        params: z.object({
          number: z
            .string()
            .regex(/^INV-\d{4}-\d{6}$/, { error: 'must be an invoice number such as INV-2026-000001' }),
        }),
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
      const invoice = await db
        .selectFrom('invoices')
        .select(['id'])
        .where('tenant_id', '=', principal.tenantId)
        .where('number', '=', number)
        .executeTakeFirst();
      if (!invoice)
        return problemJson(c, 404, {
          type: problemType('not-found'),
          title: 'Invoice not found',
          detail: `No invoice ${number}.`,
        });
      const result = await db.transaction().execute((trx) =>
        recordPayment(trx, {
          tenantId: principal.tenantId,
          invoiceId: invoice.id,
          source: 'bank_transfer',
          externalId: `${principal.tenantId}/${body.reference}`,
          amount: body.amount,
          currency: body.currency,
          receivedAt: body.receivedAt ? new Date(body.receivedAt) : new Date(),
          actor: actorOf(principal),
        }),
      );
      if (!result.recorded) {
        const refusal = paymentRefusal(result);
        if (refusal) {
          return problemJson(c, refusal.status, {
            type: problemType('payment-refused'),
            title: 'Payment not recorded',
            detail: refusal.detail,
          });
        }
      }
      if (result.recorded || result.reason === 'duplicate') {
        await notifyFlow(deps, result.flowId, result.paymentId, db);
      }
      return result.recorded
        ? c.json(
            { paymentId: result.paymentId, duplicate: false, paid: result.paid, total: result.total },
            201,
          )
        : c.json({ paymentId: 'paymentId' in result ? result.paymentId : '', duplicate: true }, 200);
    },
  );

  const stripe = new Stripe(config.stripe.secretKey ?? 'sk_unused', { apiVersion: STRIPE_API_VERSION });

  app.post('/webhooks/stripe', async (c: Context) => {
    const secret = config.stripe.webhookSecret;
    const raw = await c.req.text();
    let event: Stripe.Event;
    try {
      if (!secret) throw new Error('STRIPE_WEBHOOK_SECRET is not configured');
      event = stripe.webhooks.constructEvent(raw, c.req.header('stripe-signature') ?? '', secret);
    } catch (error) {
      return problemResponse({
        type: problemType('invalid-signature'),
        title: 'Invalid webhook signature',
        status: 400,
        detail: error instanceof Error ? error.message : String(error),
      });
    }
    const notify: { flowId: string; paymentId: string }[] = [];
    const duplicate = await db.transaction().execute(async (trx) => {
      const receipt = await trx
        .insertInto('webhook_receipts')
        .values({ source: 'stripe', external_id: event.id, event_type: event.type, payload: raw })
        .onConflict((oc) => oc.columns(['source', 'external_id']).doNothing())
        .returning('id')
        .executeTakeFirst();
      const session = event.data.object as Stripe.Checkout.Session;
      const metadata = session.metadata ?? {};
      const paid =
        (event.type === 'checkout.session.completed' && session.payment_status === 'paid') ||
        event.type === 'checkout.session.async_payment_succeeded';
      if (paid && metadata.invoiceId && metadata.tenantId) {
        // Recorded on the first delivery; looked up again on a repeat, so a lost signal is sent again.
        const result = await recordPayment(trx, {
          tenantId: metadata.tenantId,
          invoiceId: metadata.invoiceId,
          source: 'stripe',
          externalId: typeof session.payment_intent === 'string' ? session.payment_intent : session.id,
          amount: session.amount_total ?? 0,
          currency: (session.currency ?? '').toUpperCase(),
          receivedAt: new Date(event.created * 1000),
          actor: { type: 'webhook', id: `stripe:${event.id}` },
        });
        if (result.recorded || result.reason === 'duplicate')
          notify.push({ flowId: result.flowId, paymentId: result.paymentId });
      } else if (
        receipt &&
        metadata.tenantId &&
        ['checkout.session.async_payment_failed', 'checkout.session.expired', 'charge.refunded'].includes(
          event.type,
        )
      ) {
        // Recorded for finance; none of these moves a flow backwards.
        await appendEvent(trx, {
          tenantId: metadata.tenantId,
          type: `stripe.${event.type}`,
          actor: { type: 'webhook', id: `stripe:${event.id}` },
          entity: { type: 'invoice', id: metadata.invoiceId ?? session.id },
          flowId: metadata.flowId,
          payload: { stripeEventId: event.id, objectId: session.id },
          idempotencyKey: `stripe/${event.id}`,
        });
      }
      return !receipt;
    });
    for (const { flowId, paymentId } of notify) await notifyFlow(deps, flowId, paymentId, db);
    return c.json({ received: true, duplicate }, 200);
  });
}
