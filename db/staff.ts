import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor } from '../domain/flow.js';
import type { Role } from '../domain/roles.js';
import { DECOY_HASH, hashPassword, needsRehash, verifyPassword } from '../runtime/passwords.js';
import { hashSecret } from '../runtime/secretHash.js';
import type { Db } from './client.js';
import { appendEvent } from './events.js';

/**
 * Staff accounts and their console sessions: this module writes them, and each change is an audit event. An
 * invitation is a one-time link (7 days); a session lasts `SESSION_HOURS` and carries its own CSRF token.
 */
export const SESSION_HOURS = 12;
const INVITE_DAYS = 7;

const newToken = () => randomBytes(32).toString('base64url');

export interface StaffInvite {
  tenantId: string;
  email: string;
  name: string;
  roles: Role[];
  architectId?: string | null;
  crewId?: string | null;
}

export type InviteResult =
  | { invited: true; userId: string; inviteToken: string; expiresAt: Date }
  | { invited: false; reason: 'email_taken' };

export async function inviteStaff(db: Db, invite: StaffInvite, by: Actor): Promise<InviteResult> {
  const inviteToken = newToken();
  const expiresAt = new Date(Date.now() + INVITE_DAYS * 86_400_000);
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('staff_users')
      .values({
        tenant_id: invite.tenantId,
        email: invite.email,
        name: invite.name,
        roles: invite.roles,
        architect_id: invite.architectId ?? null,
        crew_id: invite.crewId ?? null,
        invite_token_hash: hashSecret(inviteToken),
        invite_expires_at: expiresAt,
        invited_by: by.id,
      })
      .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) return { invited: false, reason: 'email_taken' } as const;
    await appendEvent(trx, {
      tenantId: invite.tenantId,
      type: 'staff.invited',
      actor: by,
      entity: { type: 'staff_user', id: row.id },
      payload: { email: invite.email, name: invite.name, roles: invite.roles },
      idempotencyKey: `staff.invited/${row.id}`,
    });
    return { invited: true, userId: row.id, inviteToken, expiresAt } as const;
  });
}

/** Who an open invitation is for, or nothing when the link is unknown, used or expired. */
export async function invitation(db: Db, token: string) {
  return db
    .selectFrom('staff_users')
    .select(['id', 'tenant_id', 'email', 'name'])
    .where('invite_token_hash', '=', hashSecret(token))
    .where('invite_expires_at', '>', new Date())
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
}

/** Sets the invitee's password; the link works once. */
export async function acceptInvitation(db: Db, token: string, password: string): Promise<boolean> {
  const passwordHash = await hashPassword(password);
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('staff_users')
      .set({ password_hash: passwordHash, invite_token_hash: null, invite_expires_at: null })
      .where('invite_token_hash', '=', hashSecret(token))
      .where('invite_expires_at', '>', new Date())
      .where('disabled_at', 'is', null)
      .returning(['id', 'tenant_id', 'email'])
      .executeTakeFirst();
    if (!row) return false;
    await appendEvent(trx, {
      tenantId: row.tenant_id,
      type: 'staff.password_set',
      actor: { type: 'user', id: row.email },
      entity: { type: 'staff_user', id: row.id },
      payload: {},
      idempotencyKey: `staff.password_set/${row.id}/${randomBytes(8).toString('hex')}`,
    });
    return true;
  });
}

export interface NewSession {
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

/**
 * A new session for the right address and password, or nothing; an unknown address costs the same time as a
 * wrong password. A hash made at an older cost is replaced on the way.
 */
export async function signIn(
  db: Db,
  email: string,
  password: string,
  requestId: string,
): Promise<NewSession | null> {
  const user = await db
    .selectFrom('staff_users')
    .select(['id', 'tenant_id', 'email', 'password_hash'])
    .where(sql`lower(email)`, '=', email.trim().toLowerCase())
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
  const matches = await verifyPassword(password, user?.password_hash ?? DECOY_HASH);
  if (!user?.password_hash || !matches) return null;
  const session = {
    token: newToken(),
    csrfToken: newToken(),
    expiresAt: new Date(Date.now() + SESSION_HOURS * 3_600_000),
  };
  const rehashed = needsRehash(user.password_hash) ? await hashPassword(password) : undefined;
  await db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('staff_sessions')
      .values({
        token_hash: hashSecret(session.token),
        tenant_id: user.tenant_id,
        user_id: user.id,
        csrf_token: session.csrfToken,
        expires_at: session.expiresAt,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (rehashed)
      await trx
        .updateTable('staff_users')
        .set({ password_hash: rehashed })
        .where('id', '=', user.id)
        .execute();
    await appendEvent(trx, {
      tenantId: user.tenant_id,
      type: 'staff.signed_in',
      actor: { type: 'user', id: user.email },
      entity: { type: 'staff_user', id: user.id },
      payload: { sessionId: row.id },
      idempotencyKey: `staff.signed_in/${requestId}`,
    });
  });
  return session;
}

export interface StaffSession {
  sessionId: string;
  csrfToken: string;
  userId: string;
  email: string;
  name: string;
  tenantId: string;
  tenantSlug: string;
  roles: Role[];
  architectId: string | null;
  crewId: string | null;
}

/** The session a cookie's token opens, while it is neither expired, signed out nor its account disabled. */
export async function sessionOf(db: Db, token: string): Promise<StaffSession | null> {
  const row = await db
    .selectFrom('staff_sessions as s')
    .innerJoin('staff_users as u', (join) =>
      join.onRef('u.id', '=', 's.user_id').onRef('u.tenant_id', '=', 's.tenant_id'),
    )
    .innerJoin('tenants as t', 't.id', 's.tenant_id')
    .select([
      's.id as sessionId',
      's.csrf_token as csrfToken',
      'u.id as userId',
      'u.email',
      'u.name',
      's.tenant_id as tenantId',
      't.slug as tenantSlug',
      'u.roles',
      'u.architect_id as architectId',
      'u.crew_id as crewId',
    ])
    .where('s.token_hash', '=', hashSecret(token))
    .where('s.expires_at', '>', new Date())
    .where('s.revoked_at', 'is', null)
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
  return row ? { ...row, roles: row.roles as Role[] } : null;
}

export async function signOut(db: Db, sessionId: string): Promise<void> {
  await db
    .updateTable('staff_sessions')
    .set({ revoked_at: new Date() })
    .where('id', '=', sessionId)
    .execute();
}

/** The tenant's people, for admins: who, which roles, whether they have signed up yet. */
export async function listStaff(db: Db, tenantId: string) {
  const rows = await db
    .selectFrom('staff_users')
    .select([
      'id',
      'email',
      'name',
      'roles',
      'architect_id',
      'crew_id',
      'password_hash',
      'invite_expires_at',
      'created_at',
      'disabled_at',
    ])
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map((row) => ({
    id: row.id,
    email: row.email,
    name: row.name,
    roles: row.roles as Role[],
    architectId: row.architect_id,
    crewId: row.crew_id,
    state: row.disabled_at
      ? ('disabled' as const)
      : row.password_hash
        ? ('active' as const)
        : ('invited' as const),
    inviteExpiresAt: row.invite_expires_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  }));
}
