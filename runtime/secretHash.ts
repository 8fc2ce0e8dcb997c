import { createHash } from 'node:crypto';

/**
 * How Flowdesk stores a random secret it hands out (API keys, webhook secrets, session and invite tokens): its
 * SHA-256. The secrets are 256 random bits, so a slow hash would add nothing; passwords, which people choose,
 * use runtime/passwords.ts.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
