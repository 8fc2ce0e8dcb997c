import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { inviteStaff, listStaff } from '../../db/staff.js';
import { Role } from '../../domain/roles.js';
import { listApiKeys } from '../apiKeys.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent, problemJson, problemType } from '../problem.js';
import { ApiKey, adminRefusals, namesItsSubject, unknownSubject } from './apiKeys.js';
import { actorOf, json } from './shared.js';

const Person = z
  .object({
    id: z.uuid(),
    email: z.string(),
    name: z.string(),
    roles: z.array(Role),
    architectId: z.uuid().nullable(),
    crewId: z.uuid().nullable(),
    state: z.enum(['invited', 'active', 'disabled']).describe('Invited until they set their password'),
    inviteExpiresAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .openapi('StaffAccount');
const Invitation = z
  .object({
    email: z.email().max(254),
    name: z.string().trim().min(1).max(100),
    roles: z.array(Role).min(1),
    architectId: z.uuid().optional().describe('Required with the architect role: the architect they are'),
    crewId: z.uuid().optional().describe('Required with the installer role: their crew'),
  })
  .superRefine(namesItsSubject('account'))
  .openapi('StaffInvitation');
const Invited = z
  .object({
    userId: z.uuid(),
    inviteUrl: z.url().describe('One-time link where they choose their password; send it to them'),
    expiresAt: z.iso.datetime(),
  })
  .openapi('StaffInvited');
/**
 * Admins invite the people who sign in to the ops console, and see them beside the tenant's API keys: people use
 * sessions, programs use keys.
 */
export function registerStaffRoutes(app: OpenAPIHono<ApiEnv>, { db, config }: ApiDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/staff',
      tags: ['Access'],
      summary: 'Who can reach the tenant (admin): its people (console accounts) and its programs (API keys)',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      responses: {
        200: {
          description: 'Newest first',
          content: json(z.object({ people: z.array(Person), keys: z.array(ApiKey) })),
        },
        ...adminRefusals,
      },
    }),
    async (c) => {
      const { tenantId } = c.get('principal');
      const [people, keys] = await Promise.all([listStaff(db, tenantId), listApiKeys(db, tenantId)]);
      return c.json({ people, keys }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/staff',
      tags: ['Access'],
      summary: 'Invites a person to the ops console with their roles (admin); the link is in this answer',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { body: { required: true, content: json(Invitation) } },
      responses: {
        201: { description: 'Invited', content: json(Invited) },
        400: { description: 'Invalid request', content: problemContent },
        409: { description: 'The address has an account already', content: problemContent },
        ...adminRefusals,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const unknown = await unknownSubject(db, principal.tenantId, body);
      if (unknown) return invalidField(c, `body.${unknown}`, 'no such one in this tenant');
      const result = await inviteStaff(db, { tenantId: principal.tenantId, ...body }, actorOf(principal));
      if (!result.invited)
        return problemJson(c, 409, {
          type: problemType('conflict'),
          title: 'Address taken',
          detail: `${body.email} has an account already.`,
        });
      return c.json(
        {
          userId: result.userId,
          inviteUrl: new URL(`/console/invite/${result.inviteToken}`, config.api.publicUrl).toString(),
          expiresAt: result.expiresAt.toISOString(),
        },
        201,
      );
    },
  );
}
