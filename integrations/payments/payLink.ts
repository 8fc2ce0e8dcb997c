import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The payment link customers get by email. A Stripe Checkout Session lives 24 hours at most while an invoice is
 * payable for weeks, so letters carry a Flowdesk link that always leads to the invoice's current session. The
 * token is an HMAC over the invoice id: it cannot be guessed or moved to another invoice, and it does not expire
 * while the invoice is open.
 */
function token(secret: string, invoiceId: string): string {
  return createHmac('sha256', secret).update(`pay.${invoiceId}`).digest('base64url');
}

export function payUrl(publicUrl: string, secret: string, invoiceId: string): string {
  return `${publicUrl}/pay/${invoiceId}?token=${token(secret, invoiceId)}`;
}

export function isPayToken(secret: string, invoiceId: string, presented: string): boolean {
  const expected = Buffer.from(token(secret, invoiceId));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
