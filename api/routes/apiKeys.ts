import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { Role } from '../../domain/roles.js';
import { issueApiKey, listApiKeys, revokeApiKey, rotateApiKey } from '../apiKeys.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent, problemJson, problemType } from '../problem.js';
import { actorOf, json } from './shared.js';

/**
 * A key or an account with the architect role acts for one architect, one with the installer role for one crew:
 * it names them, and only then.
 */
export const namesItsSubject =
  (what: string) =>
  (
    request: { roles: Role[]; architectId?: string; crewId?: string },
    ctx: { addIssue: (issue: { code: 'custom'; path: string[]; message: string }) => void },
  ) => {
    const pairs = [
      ['architect', 'architectId'],
      ['installer', 'crewId'],
    ] as const;
    for (const [role, field] of pairs) {
      const has = request.roles.includes(role);
      if (has !== (request[field] !== undefined))
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: has
            ? `${what === 'key' ? 'a key' : 'an account'} with the ${role} role names its ${field.replace('Id', '')}`
            : `only for the ${role} role`,
        });
    }
  };

export const ApiKey = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().describe('The visible part of the key (`fdk_<prefix>_…`), to recognise it'),
    roles: z.array(Role),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable().describe('Kept to the minute'),
    expiresAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
    architectId: z.uuid().nullable().describe('The architect this key acts for: it sees their leads only'),
    crewId: z.uuid().nullable().describe('The crew this key acts for: it sees its own jobs only'),
  })
  .openapi('ApiKey');
const NewApiKey = ApiKey.extend({
  key: z.string().describe('The key itself: shown this once, stored only hashed'),
}).openapi('NewApiKey');
const inFuture = z.iso
  .datetime({ offset: true })
  .refine((value) => Date.parse(value) > Date.now(), { error: 'must be in the future' });
const KeyRequest = z
  .object({
    name: z.string().trim().min(1).max(100),
    roles: z.array(Role).min(1),
    expiresAt: inFuture.optional(),
    architectId: z.uuid().optional().describe('Required with the architect role: the architect it acts for'),
    crewId: z.uuid().optional().describe('Required with the installer role: the crew it acts for'),
  })
  .superRefine(namesItsSubject('key'))
  .openapi('ApiKeyRequest');
const Rotation = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .default(0)
      .describe('How long the old key keeps working (at most 7 days); 0 ends it now'),
    expiresAt: inFuture.optional().describe('When the new key expires'),
  })
  .openapi('ApiKeyRotation');
const KeyParam = z.object({ keyId: z.uuid() });
/** What an admin-only route answers a key that is not valid, or not an admin's. */
export const adminRefusals = {
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'Needs the admin role', content: problemContent },
};

/** The architect or crew a key or account request names, when it is not one of the tenant's. */
export async function unknownSubject(
  db: ApiDeps['db'],
  tenantId: string,
  request: { architectId?: string; crewId?: string },
): Promise<'architectId' | 'crewId' | undefined> {
  for (const [field, table] of [
    ['architectId', 'architects'],
    ['crewId', 'crews'],
  ] as const) {
    const id = request[field];
    if (!id) continue;
    const found = await db
      .selectFrom(table)
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!found) return field;
  }
  return undefined;
}

/** Admins manage their tenant's keys: list, create, revoke, rotate. Each change is an audit event. */
export function registerApiKeyRoutes(app: OpenAPIHono<ApiEnv>, { db }: ApiDeps): void {
  const notFound = (c: Parameters<typeof problemJson>[0]) =>
    problemJson(c, 404, { type: problemType('not-found'), title: 'Key not found', detail: 'No such key.' });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/api-keys',
      tags: ['Access'],
      summary: "The tenant's API keys (admin): names, roles, use and expiry, never the keys",
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      responses: {
        200: { description: 'Newest first', content: json(z.object({ keys: z.array(ApiKey) })) },
        ...adminRefusals,
      },
    }),
    async (c) => c.json({ keys: await listApiKeys(db, c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/api-keys',
      tags: ['Access'],
      summary: 'Creates a key (admin); the key is in this answer only',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { body: { required: true, content: json(KeyRequest) } },
      responses: {
        201: { description: 'Created', content: json(NewApiKey) },
        400: { description: 'Invalid request', content: problemContent },
        ...adminRefusals,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const unknown = await unknownSubject(db, principal.tenantId, body);
      if (unknown) return invalidField(c, `body.${unknown}`, 'no such one in this tenant');
      const created = await issueApiKey(db, {
        tenantId: principal.tenantId,
        name: body.name,
        roles: body.roles,
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : undefined,
        architectId: body.architectId,
        crewId: body.crewId,
        actor: actorOf(principal),
      });
      return c.json(created, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/api-keys/{keyId}/revoke',
      tags: ['Access'],
      summary: 'Revokes a key at once (admin)',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { params: KeyParam },
      responses: {
        200: { description: 'Revoked (or already was)', content: json(ApiKey) },
        400: { description: 'Invalid request', content: problemContent },
        404: { description: 'No such key in this tenant', content: problemContent },
        ...adminRefusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const revoked = await revokeApiKey(db, {
        tenantId: principal.tenantId,
        keyId: c.req.valid('param').keyId,
        actor: actorOf(principal),
      });
      return revoked ? c.json(revoked, 200) : notFound(c);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/api-keys/{keyId}/rotate',
      tags: ['Access'],
      summary:
        'Replaces a key with a new one of the same name and roles (admin); the old one ends after the overlap',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { params: KeyParam, body: { required: false, content: json(Rotation) } },
      responses: {
        201: { description: 'The new key, in this answer only', content: json(NewApiKey) },
        400: { description: 'Invalid request', content: problemContent },
        404: { description: 'No such key in this tenant', content: problemContent },
        409: { description: 'The key is revoked or expired', content: problemContent },
        ...adminRefusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      // Without a body the validator does not run: the defaults come from the schema here.
      const body = Rotation.parse(c.req.valid('json') ?? {});
      const rotated = await rotateApiKey(db, {
        tenantId: principal.tenantId,
        keyId: c.req.valid('param').keyId,
        overlapSeconds: body.overlapSeconds,
        expiresAt: body.expiresAt ? new Date(body.expiresAt) : undefined,
        actor: actorOf(principal),
      });
      if (rotated === 'not_found') return notFound(c);
      if (rotated === 'revoked')
        return problemJson(c, 409, {
          type: problemType('key-ended'),
          title: 'Key ended',
          detail: 'A revoked or expired key cannot be rotated; create a new one.',
        });
      return c.json(rotated, 201);
    },
  );
}
