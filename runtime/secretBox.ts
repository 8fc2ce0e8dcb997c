import { hkdfSync } from 'node:crypto';
import { openBytes, sealBytes } from './aesGcm.js';
import type { PayloadKey } from './payloadCodec.js';

/**
 * Secrets Flowdesk keeps for others (a supplier's API credentials and webhook secret) are stored sealed:
 * AES-256-GCM under a key derived from the payload keys (PAYLOAD_KEYS), named by the key's id, so the same
 * rotation applies. Only the code that uses a secret opens it. A value stored before sealing reads as it is.
 */
const PREFIX = 'sealed:v1:';

export interface SecretBox {
  seal(secret: string): string;
  open(stored: string): string;
  isSealed(stored: string): boolean;
}

export function createSecretBox(keys: readonly PayloadKey[]): SecretBox {
  const derived = new Map(
    keys.map(({ id, key }) => [
      id,
      Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'flowdesk secrets at rest', 32)),
    ]),
  );
  const [current] = keys;
  if (!current) throw new Error('a secret box needs a key');
  return {
    seal(secret) {
      const sealed = sealBytes(derived.get(current.id) as Buffer, Buffer.from(secret, 'utf8'));
      return `${PREFIX}${current.id}:${sealed.toString('base64url')}`;
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const [keyId = '', body = ''] = stored.slice(PREFIX.length).split(':');
      const key = derived.get(keyId);
      if (!key)
        throw new Error(`no payload key "${keyId}" is configured (PAYLOAD_KEYS) to open a stored secret`);
      return openBytes(key, Buffer.from(body, 'base64url')).toString('utf8');
    },
    isSealed: (stored) => stored.startsWith(PREFIX),
  };
}
