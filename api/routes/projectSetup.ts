import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { catalogueView, listCatalogue, saveCatalogueItem } from '../../db/catalogue.js';
import {
  listArchitects,
  listCrews,
  projectSettingsOf,
  saveArchitect,
  saveCrew,
  saveProjectSettings,
} from '../../db/projectSetup.js';
import { CatalogueItem } from '../../domain/catalogue.schema.js';
import { ProjectSettings } from '../../domain/leadToInstall.schema.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent } from '../problem.js';
import { actorOf, json } from './shared.js';

const refusals = (role: string) => ({
  401: { description: 'No valid API key', content: problemContent },
  403: { description: `Needs the ${role} role`, content: problemContent },
});

const Settings = ProjectSettings.openapi('ProjectSettings');
const Item = CatalogueItem.openapi('CatalogueItemRequest');
const ItemView = z
  .object({
    sku: z.string(),
    kind: z.enum(['panel', 'inverter', 'accessory']),
    name: z.string(),
    supplier: z.string(),
    unitPrice: z.number().int(),
    currency: z.string(),
    leadTimeDays: z.number().int(),
    minPerSite: z.number().int(),
    maxPerSite: z.number().int().nullable(),
    packOf: z.number().int(),
    active: z.boolean(),
  })
  .openapi('CatalogueItem');
const SkuParam = z.object({
  sku: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, ".", "_" or "-"' }),
});
const Crew = z
  .object({
    name: z.string().trim().min(1).max(100),
    email: z.email(),
    jobsPerDay: z.number().int().min(1).max(50),
    weeklyCapacity: z.number().int().min(1).max(350),
    active: z.boolean().default(true),
  })
  .openapi('CrewRequest');
const CrewView = z
  .object({
    crewId: z.uuid(),
    name: z.string(),
    email: z.string(),
    jobsPerDay: z.number().int(),
    weeklyCapacity: z.number().int(),
    active: z.boolean(),
  })
  .openapi('Crew');
const Architect = z
  .object({ name: z.string().trim().min(1).max(200), email: z.email() })
  .openapi('ArchitectRequest');
const ArchitectView = z
  .object({ architectId: z.uuid(), name: z.string(), email: z.string() })
  .openapi('Architect');

/**
 * What admins set up for lead to installation: the project settings (qualification rules, advance, durations),
 * the catalogue customers choose from, the crews that install, and the architects who bring leads.
 */
export function registerProjectSetupRoutes(app: OpenAPIHono<ApiEnv>, { db }: ApiDeps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/settings/projects',
      tags: ['Project setup'],
      summary: "The tenant's project settings (coordinator, admin)",
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      responses: {
        200: { description: 'The settings, defaults included', content: json(Settings) },
        ...refusals('coordinator'),
      },
    }),
    async (c) => c.json(await projectSettingsOf(db, c.get('principal').tenantId), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/settings/projects',
      tags: ['Project setup'],
      summary:
        "Replaces the tenant's project settings (admin); flows already running keep the settings they started with",
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { body: { required: true, content: json(Settings) } },
      responses: {
        200: { description: 'Saved', content: json(Settings) },
        400: { description: 'Invalid request', content: problemContent },
        ...refusals('admin'),
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const settings = await saveProjectSettings(db, {
        tenantId: principal.tenantId,
        settings: c.req.valid('json'),
        actor: actorOf(principal),
        requestId: c.get('requestId'),
      });
      return c.json(settings, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/catalogue',
      tags: ['Project setup'],
      summary: "The tenant's catalogue",
      security: [{ apiKey: [] }],
      responses: {
        200: { description: 'By kind and SKU', content: json(z.object({ items: z.array(ItemView) })) },
        401: { description: 'No valid API key', content: problemContent },
      },
    }),
    async (c) =>
      c.json({ items: (await listCatalogue(db, c.get('principal').tenantId)).map(catalogueView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/catalogue/{sku}',
      tags: ['Project setup'],
      summary: 'Creates or replaces a catalogue item (admin); selections already locked keep their prices',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { params: SkuParam, body: { required: true, content: json(Item) } },
      responses: {
        201: { description: 'Created', content: json(ItemView) },
        200: { description: 'Replaced', content: json(ItemView) },
        400: {
          description: 'Invalid request, or a producer that is not one of the tenant’s suppliers',
          content: problemContent,
        },
        ...refusals('admin'),
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const { sku } = c.req.valid('param');
      const item = c.req.valid('json');
      if (item.sku !== sku) return invalidField(c, 'body.sku', `must be the SKU in the path (${sku})`);
      const saved = await saveCatalogueItem(db, {
        tenantId: principal.tenantId,
        item,
        actor: actorOf(principal),
        requestId: c.get('requestId'),
      });
      if (!saved) return invalidField(c, 'body.supplier', `no supplier ${item.supplier} in this tenant`);
      return c.json(saved.view, saved.created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/crews',
      tags: ['Project setup'],
      summary: "The tenant's installation crews (coordinator, admin)",
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      responses: {
        200: { description: 'By name', content: json(z.object({ crews: z.array(CrewView) })) },
        ...refusals('coordinator'),
      },
    }),
    async (c) => c.json({ crews: await listCrews(db, c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/crews',
      tags: ['Project setup'],
      summary: 'Adds a crew, or changes the one of that name (admin)',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { body: { required: true, content: json(Crew) } },
      responses: {
        200: { description: 'Saved', content: json(CrewView) },
        400: { description: 'Invalid request', content: problemContent },
        ...refusals('admin'),
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const crew = await saveCrew(db, {
        ...c.req.valid('json'),
        tenantId: principal.tenantId,
        actor: actorOf(principal),
        requestId: c.get('requestId'),
      });
      return c.json(crew, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/architects',
      tags: ['Project setup'],
      summary: 'The architects who bring the tenant leads (coordinator, admin)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      responses: {
        200: { description: 'By name', content: json(z.object({ architects: z.array(ArchitectView) })) },
        ...refusals('coordinator'),
      },
    }),
    async (c) => c.json({ architects: await listArchitects(db, c.get('principal').tenantId) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/architects',
      tags: ['Project setup'],
      summary:
        'Adds an architect, or renames the one with that email (admin); give them a key with the architect role',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: { body: { required: true, content: json(Architect) } },
      responses: {
        200: { description: 'Saved', content: json(ArchitectView) },
        400: { description: 'Invalid request', content: problemContent },
        ...refusals('admin'),
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const architect = await saveArchitect(db, {
        ...c.req.valid('json'),
        tenantId: principal.tenantId,
        actor: actorOf(principal),
        requestId: c.get('requestId'),
      });
      return c.json(architect, 200);
    },
  );
}
