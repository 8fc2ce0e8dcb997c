import { createMiddleware } from 'hono/factory';
import type { Db } from '../db/client.js';
import type { Role } from '../domain/roles.js';
import { verifyApiKey } from './apiKeys.js';
import type { ApiEnv } from './context.js';
import { problemResponse, problemType } from './problem.js';

function presentedKey(
  authorization: string | undefined,
  apiKeyHeader: string | undefined,
): string | undefined {
  if (apiKeyHeader) return apiKeyHeader.trim();
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  return match?.[1]?.trim();
}

/** Every /v1 route: a valid API key, which carries the tenant every query is scoped to. */
export function requireApiKey(db: Db) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const key = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    const principal = key ? await verifyApiKey(db, key) : null;
    if (!principal) {
      return problemResponse(
        {
          type: problemType('unauthenticated'),
          title: 'Authentication required',
          status: 401,
          detail: key ? 'The API key is not valid.' : 'Send an API key as "Authorization: Bearer <key>".',
        },
        { 'www-authenticate': 'Bearer' },
      );
    }
    c.set('principal', principal);
    await next();
  });
}

/** Admin may do everything; otherwise the key needs one of the listed roles. */
export function requireRole(...allowed: Role[]) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const { roles } = c.get('principal');
    if (!roles.includes('admin') && !roles.some((role) => allowed.includes(role))) {
      return problemResponse({
        type: problemType('forbidden'),
        title: 'Not allowed',
        status: 403,
        detail: `This action needs one of the roles: ${['admin', ...allowed].join(', ')}.`,
      });
    }
    await next();
  });
}
