import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/client.js';
import type { Role } from '../domain/roles.js';

/**
 * An API key reads `fdk_<prefix>_<secret>`. The prefix finds the row; only a SHA-256 of the secret is stored
 * (the secret is 256 random bits, so a slow hash adds nothing), and the plain key is shown once at creation.
 */
const KEY_PATTERN = /^fdk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export interface CreatedApiKey {
  id: string;
  key: string;
  prefix: string;
}

export async function createApiKey(
  db: Db,
  input: { tenantId: string; name: string; roles: Role[] },
): Promise<CreatedApiKey> {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const row = await db
    .insertInto('api_keys')
    .values({
      tenant_id: input.tenantId,
      name: input.name,
      prefix,
      key_hash: hashSecret(secret),
      roles: input.roles,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, key: `fdk_${prefix}_${secret}`, prefix };
}

export interface Principal {
  keyId: string;
  keyName: string;
  tenantId: string;
  tenantSlug: string;
  roles: Role[];
}

/** The principal a presented key stands for, or null when it is malformed, unknown, revoked or wrong. */
export async function verifyApiKey(db: Db, presented: string): Promise<Principal | null> {
  const match = KEY_PATTERN.exec(presented);
  if (!match) return null;
  const [, prefix = '', secret = ''] = match;
  const row = await db
    .selectFrom('api_keys')
    .innerJoin('tenants', 'tenants.id', 'api_keys.tenant_id')
    .select([
      'api_keys.id',
      'api_keys.name',
      'api_keys.key_hash',
      'api_keys.roles',
      'api_keys.tenant_id',
      'tenants.slug',
    ])
    .where('api_keys.prefix', '=', prefix)
    .where('api_keys.revoked_at', 'is', null)
    .executeTakeFirst();
  if (!row) return null;
  const expected = Buffer.from(row.key_hash, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
  return {
    keyId: row.id,
    keyName: row.name,
    tenantId: row.tenant_id,
    tenantSlug: row.slug,
    roles: row.roles as Role[],
  };
}
