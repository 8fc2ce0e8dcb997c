import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The built-in e-signature provider: Flowdesk serves the signing page itself. A signing link carries the
 * envelope id, its expiry and an HMAC over both, so it cannot be forged or extended by editing the URL.
 */
function token(secret: string, envelopeId: string, expiresAt: number): string {
  return createHmac('sha256', secret).update(`${envelopeId}.${expiresAt}`).digest('base64url');
}

export function signingUrl(publicUrl: string, secret: string, envelopeId: string, expiresAt: Date): string {
  const expires = expiresAt.getTime();
  return `${publicUrl}/sign/${encodeURIComponent(envelopeId)}?expires=${expires}&token=${token(secret, envelopeId, expires)}`;
}

export type TokenCheck = 'valid' | 'invalid' | 'expired';

export function checkSigningToken(
  secret: string,
  envelopeId: string,
  expires: string | undefined,
  presented: string | undefined,
  now = Date.now(),
): TokenCheck {
  const expiresAt = Number(expires);
  if (!presented || !Number.isSafeInteger(expiresAt)) return 'invalid';
  const expected = Buffer.from(token(secret, envelopeId, expiresAt));
  const actual = Buffer.from(presented);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return 'invalid';
  return expiresAt < now ? 'expired' : 'valid';
}
