import { randomBytes, timingSafeEqual } from 'node:crypto';
import { type ExpressionBuilder, type Selectable, sql } from 'kysely';
import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import type { ApiKeysTable, Database } from '../db/schema.js';
import type { Actor } from '../domain/flow.js';
import type { Role } from '../domain/roles.js';
import { hashSecret } from '../runtime/secretHash.js';

/**
 * An API key reads `fdk_<prefix>_<secret>`. The prefix finds the row; only a SHA-256 of the secret is stored
 * (the secret is 256 random bits, so a slow hash adds nothing), and the plain key is shown once at creation.
 */
const KEY_PATTERN = /^fdk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** Whom a key acts for, beyond its tenant: an architect (who sees their own leads) or a crew (its own jobs). */
export interface KeySubject {
  architectId?: string | null;
  crewId?: string | null;
}

export interface CreatedApiKey {
  id: string;
  key: string;
  prefix: string;
}

export async function createApiKey(
  db: Db,
  input: KeySubject & { tenantId: string; name: string; roles: Role[]; expiresAt?: Date },
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
      expires_at: input.expiresAt ?? null,
      architect_id: input.architectId ?? null,
      crew_id: input.crewId ?? null,
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
  architectId: string | null;
  crewId: string | null;
}

const USE_NOTED_EVERY_MS = 60_000;
const lastNoted = new Map<string, number>();

/**
 * Keeps `last_used_at`, cheaply: at most one write per key a minute from each process, off the request's path
 * (a usage stamp that fails to be written is not worth failing a request for).
 */
function noteUse(db: Db, keyId: string): void {
  const now = Date.now();
  if (now - (lastNoted.get(keyId) ?? 0) < USE_NOTED_EVERY_MS) return;
  lastNoted.set(keyId, now);
  void db
    .updateTable('api_keys')
    .set({ last_used_at: sql`now()` })
    .where('id', '=', keyId)
    .execute()
    .catch(() => lastNoted.delete(keyId));
}

/**
 * A key that works: neither revoked nor expired. Keys are read on every request, never cached, so a revoked or
 * expired key stops working at once, in every process.
 */
const stillWorks = (eb: ExpressionBuilder<Database, 'api_keys'>) =>
  eb.and([
    eb('api_keys.revoked_at', 'is', null),
    eb.or([eb('api_keys.expires_at', 'is', null), eb('api_keys.expires_at', '>', sql<Date>`now()`)]),
  ]);

/** The roles of a key that still works (a browser session's key, say), or undefined. */
export async function rolesOfWorkingKey(db: Db, keyId: string): Promise<Role[] | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select('roles')
    .where('id', '=', keyId)
    .where(stillWorks)
    .executeTakeFirst();
  return row?.roles as Role[] | undefined;
}

/** The principal a presented key stands for, or null when it is malformed, unknown, revoked, expired or wrong. */
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
      'api_keys.architect_id',
      'api_keys.crew_id',
      'tenants.slug',
    ])
    .where('api_keys.prefix', '=', prefix)
    .where(stillWorks)
    .executeTakeFirst();
  if (!row) return null;
  const expected = Buffer.from(row.key_hash, 'hex');
  const actual = Buffer.from(hashSecret(secret), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
  noteUse(db, row.id);
  return {
    keyId: row.id,
    keyName: row.name,
    tenantId: row.tenant_id,
    tenantSlug: row.slug,
    roles: row.roles as Role[],
    architectId: row.architect_id,
    crewId: row.crew_id,
  };
}

/** A key as admins see it: never its secret or hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  roles: Role[];
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  architectId: string | null;
  crewId: string | null;
}

type KeyRow = Selectable<ApiKeysTable>;
const viewOf = (row: KeyRow): ApiKeyView => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  roles: row.roles as Role[],
  createdAt: row.created_at.toISOString(),
  lastUsedAt: row.last_used_at?.toISOString() ?? null,
  expiresAt: row.expires_at?.toISOString() ?? null,
  revokedAt: row.revoked_at?.toISOString() ?? null,
  architectId: row.architect_id,
  crewId: row.crew_id,
});

/** The tenant's keys, newest first, revoked and expired ones included (they say so). */
export async function listApiKeys(db: Db, tenantId: string): Promise<ApiKeyView[]> {
  const rows = await db
    .selectFrom('api_keys')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map(viewOf);
}

/** Creates a key on record; its plain value is in the result only, once. */
export async function issueApiKey(
  db: Db,
  input: KeySubject & { tenantId: string; name: string; roles: Role[]; expiresAt?: Date; actor: Actor },
): Promise<ApiKeyView & { key: string }> {
  return db.transaction().execute(async (trx) => {
    const created = await createApiKey(trx, input);
    const row = await trx
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'api_key.created',
      actor: input.actor,
      entity: { type: 'api_key', id: created.id },
      payload: {
        name: input.name,
        prefix: created.prefix,
        roles: input.roles,
        expiresAt: input.expiresAt,
        architectId: input.architectId,
        crewId: input.crewId,
      },
      idempotencyKey: `api_key/${created.id}/created`,
    });
    return { ...viewOf(row), key: created.key };
  });
}

/** Revokes a key of the tenant at once; revoking a revoked key changes nothing. */
export async function revokeApiKey(
  db: Db,
  input: { tenantId: string; keyId: string; actor: Actor },
): Promise<ApiKeyView | undefined> {
  return db.transaction().execute(async (trx) => {
    const revoked = await trx
      .updateTable('api_keys')
      .set({ revoked_at: sql`now()` })
      .where('tenant_id', '=', input.tenantId)
      .where('id', '=', input.keyId)
      .where('revoked_at', 'is', null)
      .returningAll()
      .executeTakeFirst();
    if (revoked)
      await appendEvent(trx, {
        tenantId: input.tenantId,
        type: 'api_key.revoked',
        actor: input.actor,
        entity: { type: 'api_key', id: input.keyId },
        payload: { name: revoked.name, prefix: revoked.prefix },
        idempotencyKey: `api_key/${input.keyId}/revoked`,
      });
    const row =
      revoked ??
      (await trx
        .selectFrom('api_keys')
        .selectAll()
        .where('tenant_id', '=', input.tenantId)
        .where('id', '=', input.keyId)
        .executeTakeFirst());
    return row && viewOf(row);
  });
}

/**
 * Replaces a key with a new one of the same name and roles. The old one keeps working for `overlapSeconds` (so
 * whatever uses it can switch), then expires; 0 ends it at once.
 */
export async function rotateApiKey(
  db: Db,
  input: { tenantId: string; keyId: string; overlapSeconds: number; expiresAt?: Date; actor: Actor },
): Promise<(ApiKeyView & { key: string }) | 'not_found' | 'revoked'> {
  return db.transaction().execute(async (trx) => {
    const old = await trx
      .selectFrom('api_keys')
      .selectAll()
      .where('tenant_id', '=', input.tenantId)
      .where('id', '=', input.keyId)
      .forUpdate()
      .executeTakeFirst();
    if (!old) return 'not_found';
    if (old.revoked_at || (old.expires_at && old.expires_at <= new Date())) return 'revoked';
    const created = await createApiKey(trx, {
      tenantId: input.tenantId,
      name: old.name,
      roles: old.roles as Role[],
      expiresAt: input.expiresAt,
      architectId: old.architect_id,
      crewId: old.crew_id,
    });
    const endsAt = new Date(Date.now() + input.overlapSeconds * 1000);
    await trx
      .updateTable('api_keys')
      .set(input.overlapSeconds === 0 ? { revoked_at: sql`now()` } : { expires_at: endsAt })
      .where('id', '=', old.id)
      .execute();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'api_key.rotated',
      actor: input.actor,
      entity: { type: 'api_key', id: old.id },
      payload: {
        name: old.name,
        oldPrefix: old.prefix,
        newKeyId: created.id,
        newPrefix: created.prefix,
        oldEndsAt: endsAt,
      },
      idempotencyKey: `api_key/${old.id}/rotated`,
    });
    const row = await trx
      .selectFrom('api_keys')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    return { ...viewOf(row), key: created.key };
  });
}
