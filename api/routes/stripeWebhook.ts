import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import Stripe from 'stripe';
import { checkoutExpired } from '../../domain/invoice.js';
import { STRIPE_API_VERSION } from '../../integrations/payments/stripe.js';
import type { StripeEventEffects } from '../../integrations/payments/stripeEvents.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { startOrderFulfillment } from '../orderFulfillment.js';
import { problemContent } from '../problem.js';
import { verifiedWebhook, WebhookReceipt } from '../webhooks.js';
import { tellInvoiceFlow } from './payments.js';
import { signalIfRunning } from './shared.js';

const StripeEvent = z
  .object({
    id: z.string().min(1),
    type: z.string().min(1),
    created: z.number().int(),
    data: z.object({ object: z.record(z.string(), z.unknown()) }),
  })
  .loose()
  .openapi('StripeEvent', { description: 'A Stripe event object, as Stripe sends it' });

export function registerStripeWebhook(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { config } = deps;
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
        'Verified with `Stripe-Signature` over the raw body (5 minutes tolerance), stored in the inbox and ' +
        'acknowledged; a relay applies stored events in arrival order, then tells the flows. Deduplicated by ' +
        'event id. ' +
        'Every paid Checkout Session is recorded as a payment once: applied to its invoice, or held unapplied ' +
        'for finance (unknown or cancelled invoice, another currency). Refunds and disputes are recorded against ' +
        'their payment by payment intent. Flows are told ids only and read the facts themselves.',
      middleware: [genuineStripeEvent] as const,
      request: { body: { required: true, content: { 'application/json': { schema: StripeEvent } } } },
      responses: {
        200: { description: 'Received', content: { 'application/json': { schema: WebhookReceipt } } },
        400: { description: 'Forged, stale or malformed', content: problemContent },
      },
    }),
    async (c) => {
      const raw = await c.req.text();
      const { duplicate } = await deps.stripeInbox.receive(JSON.parse(raw) as Stripe.Event, raw);
      return c.json({ received: true as const, duplicate }, 200);
    },
  );
}

/** How the inbox's relay tells flows what a Stripe event changed: ids only, the flows read the facts. */
export function tellFlowsOfStripeEvent(deps: Pick<ApiDeps, 'db' | 'temporal' | 'config'>) {
  return async (effects: StripeEventEffects, taskQueue: string): Promise<void> => {
    for (const news of effects.news) await tellInvoiceFlow(deps, news);
    if (effects.paidOrder) await startOrderFulfillment(deps, effects.paidOrder, taskQueue);
    if (effects.expired)
      await signalIfRunning(deps, effects.expired.flowId, checkoutExpired, {
        sessionId: effects.expired.sessionId,
      });
  };
}
