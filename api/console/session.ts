import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import type { Db } from '../../db/client.js';
import { SESSION_HOURS, type StaffSession, sessionOf } from '../../db/staff.js';
import type { Actor } from '../../domain/flow.js';

/**
 * Console sessions: the cookie holds a random token (HttpOnly, SameSite=Lax, Secure over TLS, only for /console);
 * the database keeps its hash. Every form posts the session's CSRF token (`_csrf`; htmx sends it as a header),
 * and the sign-in form, which has no session yet, a token also set as a cookie (double submit).
 */
export const SESSION_COOKIE = 'flowdesk_session';
const SIGN_IN_CSRF_COOKIE = 'flowdesk_sign_in';
export const CSRF_FIELD = '_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export interface ConsoleEnv {
  Variables: { requestId: string; clientAddress: string; staff: StaffSession };
}

const overTls = (c: Context) =>
  new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';

const cookieOptions = (c: Context) =>
  ({ httpOnly: true, sameSite: 'Lax', secure: overTls(c), path: '/console' }) as const;

export function setSessionCookie(c: Context, token: string): void {
  setCookie(c, SESSION_COOKIE, token, { ...cookieOptions(c), maxAge: SESSION_HOURS * 3600 });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c));
}

/** The sign-in form's CSRF token: the cookie's when it has one, else a new one set now. */
export function signInCsrfToken(c: Context): string {
  const existing = getCookie(c, SIGN_IN_CSRF_COOKIE);
  if (existing && /^[\w-]{43}$/.test(existing)) return existing;
  const token = randomBytes(32).toString('base64url');
  setCookie(c, SIGN_IN_CSRF_COOKIE, token, { ...cookieOptions(c), maxAge: 3600 });
  return token;
}

const same = (a: string | undefined, b: string) =>
  a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The token a form or an htmx request presented. */
async function presentedToken(c: Context): Promise<string | undefined> {
  const header = c.req.header(CSRF_HEADER);
  if (header) return header;
  const body = await c.req.parseBody();
  const field = body[CSRF_FIELD];
  return typeof field === 'string' ? field : undefined;
}

/** Whether the sign-in form came back with the token its page set. */
export async function signInCsrfHolds(c: Context): Promise<boolean> {
  const cookie = getCookie(c, SIGN_IN_CSRF_COOKIE);
  return cookie !== undefined && same(await presentedToken(c), cookie);
}

/**
 * Every console page but sign-in: a live session, else to the sign-in page (which comes back here after); a
 * change (any method but GET and HEAD) must present the session's CSRF token, else 403.
 */
export function requireSession(
  db: Db,
  refuse: (c: Context<ConsoleEnv>, status: 403, why: string) => Response | Promise<Response>,
) {
  return createMiddleware<ConsoleEnv>(async (c, next) => {
    const token = getCookie(c, SESSION_COOKIE);
    const staff = token ? await sessionOf(db, token) : null;
    if (!staff) {
      if (c.req.method !== 'GET') return c.redirect('/console/sign-in', 303);
      const back = new URL(c.req.url);
      return c.redirect(`/console/sign-in?next=${encodeURIComponent(back.pathname + back.search)}`, 303);
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !same(await presentedToken(c), staff.csrfToken))
      return refuse(
        c,
        403,
        'This form was not sent from a page of your session (its security token did not match).',
      );
    c.set('staff', staff);
    await next();
  });
}

/** Who a signed-in person is on a flow's history. */
export const staffActor = (staff: StaffSession): Actor => ({
  type: 'user',
  id: staff.email,
  name: staff.name,
});
