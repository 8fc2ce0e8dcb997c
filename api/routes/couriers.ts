import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { listCouriers, saveCourier } from '../../db/couriers.js';
import { CourierCode, CourierSettings } from '../../domain/company.schema.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent } from '../problem.js';
import { actorOf, json } from './shared.js';

const Courier = CourierSettings.openapi('Courier');

/** The couriers a tenant ships with (USPS, DHL, Canada Post and ChitChats to begin with). */
export function registerCourierRoutes(app: OpenAPIHono<ApiEnv>, { db }: ApiDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/couriers',
      tags: ['Companies'],
      summary: 'The couriers shipments go with',
      security: [{ apiKey: [] }],
      responses: {
        200: { description: 'By code', content: json(z.object({ couriers: z.array(Courier) })) },
        401: { description: 'No valid API key', content: problemContent },
      },
    }),
    async (c) => c.json({ couriers: await listCouriers(db, c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/couriers/{code}',
      tags: ['Companies'],
      summary: 'Adds or changes a courier (admin)',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { params: z.object({ code: CourierCode }), body: { required: true, content: json(Courier) } },
      responses: {
        200: { description: 'Saved', content: json(Courier) },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Needs the admin role', content: problemContent },
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const { code } = c.req.valid('param');
      const courier = c.req.valid('json');
      if (courier.code !== code)
        return invalidField(c, 'body.code', `must be the code in the path (${code})`);
      await saveCourier(db, {
        ...courier,
        tenantId: principal.tenantId,
        actor: actorOf(principal),
        requestId: c.get('requestId'),
      });
      return c.json(courier, 200);
    },
  );
}
