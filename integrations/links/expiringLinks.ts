import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Links that carry the id they open, their expiry and an HMAC over both (and over their purpose), so they cannot
 * be forged, extended by editing the URL, or used to open something else: the built-in signing page's links and
 * the customer's configurator links.
 */
export type LinkPurpose = 'sign' | 'configure';

function token(secret: string, purpose: LinkPurpose, id: string, expiresAt: number): string {
  // Signing links were made before purposes were; their tokens stay as they were so links already sent work.
  const subject = purpose === 'sign' ? `${id}.${expiresAt}` : `${purpose}.${id}.${expiresAt}`;
  return createHmac('sha256', secret).update(subject).digest('base64url');
}

export function expiringUrl(
  publicUrl: string,
  secret: string,
  purpose: LinkPurpose,
  id: string,
  expiresAt: Date,
): string {
  const expires = expiresAt.getTime();
  return `${publicUrl}/${purpose}/${encodeURIComponent(id)}?expires=${expires}&token=${token(secret, purpose, id, expires)}`;
}

export type TokenCheck = 'valid' | 'invalid' | 'expired';

export function checkLinkToken(
  secret: string,
  purpose: LinkPurpose,
  id: string,
  expires: string | undefined,
  presented: string | undefined,
  now = Date.now(),
): TokenCheck {
  const expiresAt = Number(expires);
  if (!presented || !Number.isSafeInteger(expiresAt)) return 'invalid';
  const expected = Buffer.from(token(secret, purpose, id, expiresAt));
  const actual = Buffer.from(presented);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return 'invalid';
  return expiresAt < now ? 'expired' : 'valid';
}
