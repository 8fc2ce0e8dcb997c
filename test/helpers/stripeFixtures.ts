import { readFileSync } from 'node:fs';

/**
 * Stripe's own objects, every field Stripe sends, as stripe-mock ships them (test/fixtures/stripe/objects.json,
 * taken from stripe-mock's fixtures3.json): tests build events from these rather than from hand-picked fields.
 */
const objects: Record<string, Record<string, unknown>> = JSON.parse(
  readFileSync(new URL('../fixtures/stripe/objects.json', import.meta.url), 'utf8'),
);

type Kind = 'checkout.session' | 'charge' | 'dispute';

/** A Stripe event of `type` whose object is Stripe's fixture of `kind` with `fields` set. */
export function stripeEvent(id: string, type: string, kind: Kind, fields: Record<string, unknown>): string {
  const object = structuredClone(objects[kind] ?? {});
  return JSON.stringify({
    ...structuredClone(objects.event),
    id,
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object: { ...object, ...fields } },
  });
}

/** A paid Checkout Session for an invoice, as Stripe reports it: metadata on the session and amounts in cents. */
export function paidSession(
  id: string,
  fields: {
    sessionId: string;
    paymentIntent: string;
    amount: number;
    currency?: string;
    metadata: Record<string, string>;
  },
): string {
  return stripeEvent(id, 'checkout.session.completed', 'checkout.session', {
    id: fields.sessionId,
    amount_total: fields.amount,
    amount_subtotal: fields.amount,
    currency: (fields.currency ?? 'EUR').toLowerCase(),
    payment_intent: fields.paymentIntent,
    payment_status: 'paid',
    status: 'complete',
    metadata: fields.metadata,
  });
}
