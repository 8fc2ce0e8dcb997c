import type { Actor } from '../../domain/flow.js';
import type { Principal } from '../apiKeys.js';

/** Who did it, as the audit trail records a person acting through an API key. */
export function actorOf(principal: Principal): Actor {
  return { type: 'user', id: principal.keyId, name: principal.keyName };
}

/** Keyset pagination: the position after the last row of a page, opaque to clients. */
export function encodeCursor(updatedAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([updatedAt.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string): { updatedAt: string; id: string } | undefined {
  try {
    const [updatedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof updatedAt !== 'string' || typeof id !== 'string' || Number.isNaN(Date.parse(updatedAt)))
      return undefined;
    return { updatedAt, id };
  } catch {
    return undefined;
  }
}
