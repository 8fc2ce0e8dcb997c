import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { Role } from '../../domain/roles.js';
import type { ApiEnv } from '../context.js';

const Me = z
  .object({
    tenantId: z.uuid(),
    tenant: z.string().describe('The tenant slug'),
    keyName: z.string(),
    roles: z.array(Role),
  })
  .openapi('Me');

export function registerMeRoute(app: OpenAPIHono<ApiEnv>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/me',
      tags: ['Access'],
      summary: 'Who the presented API key stands for',
      security: [{ apiKey: [] }],
      responses: {
        200: { description: 'The key’s tenant and roles', content: { 'application/json': { schema: Me } } },
      },
    }),
    (c) => {
      const p = c.get('principal');
      return c.json({ tenantId: p.tenantId, tenant: p.tenantSlug, keyName: p.keyName, roles: p.roles }, 200);
    },
  );
}
