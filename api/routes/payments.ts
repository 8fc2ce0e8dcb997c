import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import Stripe from 'stripe';
import type { Db } from '../../db/client.js';
import { appendEvent } from '../../db/events.js';
import { type RecordedPayment, recordPayment } from '../../db/invoices.js';
import { checkoutExpired, paymentReceived } from '../../domain/invoice.js';
import { Currency } from '../../domain/proposal.js';
import { STRIPE_API_VERSION } from '../../integrations/payments/stripe.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { verifiedWebhook, WebhookReceipt } from '../webhooks.js';
import { actorOf, signalIfRunning } from './shared.js';

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

const StripeEvent = z
  .object({
    id: z.string().min(1),
    type: z.string().min(1),
    created: z.number().int(),
    data: z.object({ object: z.record(z.string(), z.unknown()) }),
  })
  .loose()
  .openapi('StripeEvent', { description: 'A Stripe event object, as Stripe sends it' });

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
  await signalIfRunning(deps, flowId, paymentReceived, {
    paymentId,
    amount: Number(payment.amount),
    source: payment.source as 'stripe' | 'bank_transfer',
    occurredAt: payment.received_at.toISOString(),
  });
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
  const genuineStripeEvent = verifiedWebhook((raw, c) => {
    const secret = config.stripe.webhookSecret;
    if (!secret) return 'STRIPE_WEBHOOK_SECRET is not configured';
    try {
      stripe.webhooks.constructEvent(raw, c.req.header('stripe-signature') ?? '', secret);
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/webhooks/stripe',
      tags: ['Webhooks'],
      summary: 'Stripe events (signed with the endpoint secret)',
      description:
        'Verified with `Stripe-Signature` over the raw body (5 minutes tolerance), deduplicated by event id. ' +
        'Paid Checkout Sessions record a payment and tell the flow; an expired session makes the flow open a new ' +
        'one; failed async payments and refunds are recorded for finance. Nothing here moves a flow backwards.',
      middleware: [genuineStripeEvent] as const,
      request: { body: { required: true, content: { 'application/json': { schema: StripeEvent } } } },
      responses: {
        200: { description: 'Received', content: { 'application/json': { schema: WebhookReceipt } } },
        400: { description: 'Forged, stale or malformed', content: problemContent },
      },
    }),
    async (c) => {
      const raw = await c.req.text();
      const event = JSON.parse(raw) as Stripe.Event;
      const notify: { flowId: string; paymentId: string }[] = [];
      let expired: { flowId: string; sessionId: string } | undefined;
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
          await trx
            .updateTable('checkout_sessions')
            .set({ status: 'complete' })
            .where('id', '=', session.id)
            .execute();
          return !receipt;
        }
        if (event.type === 'checkout.session.expired' && metadata.flowId) {
          // Only an open session expires; one already paid stays paid, whatever arrives late.
          await trx
            .updateTable('checkout_sessions')
            .set({ status: 'expired' })
            .where('id', '=', session.id)
            .where('status', '=', 'open')
            .execute();
          const current = await trx
            .selectFrom('checkout_sessions')
            .select('status')
            .where('id', '=', session.id)
            .executeTakeFirst();
          if (current?.status === 'expired') expired = { flowId: metadata.flowId, sessionId: session.id };
        }
        if (
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
      if (expired)
        await signalIfRunning(deps, expired.flowId, checkoutExpired, { sessionId: expired.sessionId });
      return c.json({ received: true as const, duplicate }, 200);
    },
  );
}
