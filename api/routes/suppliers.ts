import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Selectable } from 'kysely';
import type { SuppliersTable } from '../../db/schema.js';
import {
  SupplierCapabilities,
  SupplierCode,
  SupplierProtocol,
  SupplierSettings,
} from '../../domain/supplier.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent, problemJson, problemType } from '../problem.js';
import { listSuppliers, saveSupplier, supplierByCode } from '../supplierSettings.js';
import { actorOf } from './shared.js';

const CodeParam = z.object({ code: SupplierCode });

const Supplier = z
  .object({
    supplierId: z.string(),
    code: z.string(),
    name: z.string(),
    protocol: SupplierProtocol,
    baseUrl: z.string().nullable(),
    orderEmail: z.string(),
    capabilities: SupplierCapabilities,
    pollEvery: z.string(),
    leadTime: z.string(),
    hasCredentials: z.boolean().describe('Credentials are stored; they are never returned'),
    hasWebhookSecret: z.boolean().describe('A webhook secret is stored; it is never returned'),
    webhookUrl: z.string().describe('Where this supplier sends its status webhooks'),
  })
  .openapi('Supplier');

type SupplierRow = Selectable<SuppliersTable>;

export function supplierView(row: SupplierRow, publicUrl: string): z.infer<typeof Supplier> {
  return {
    supplierId: row.id,
    code: row.code,
    name: row.name,
    protocol: row.protocol as SupplierProtocol,
    baseUrl: row.base_url,
    orderEmail: row.order_email,
    capabilities: row.capabilities,
    pollEvery: row.poll_every,
    leadTime: row.lead_time,
    hasCredentials: row.credentials !== null,
    hasWebhookSecret: row.webhook_secret !== null,
    webhookUrl: `${publicUrl}/webhooks/suppliers/${row.id}`,
  };
}

export function registerSupplierRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;
  const view = (row: SupplierRow) => supplierView(row, config.api.publicUrl);

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/suppliers/{code}',
      tags: ['Suppliers'],
      summary: 'Register a supplier, or replace its settings (admin); credentials and secrets are write-only',
      security: [{ apiKey: [] }],
      middleware: [requireRole()] as const,
      request: {
        params: CodeParam,
        body: { required: true, content: { 'application/json': { schema: SupplierSettings } } },
      },
      responses: {
        201: { description: 'Registered', content: { 'application/json': { schema: Supplier } } },
        200: { description: 'Settings replaced', content: { 'application/json': { schema: Supplier } } },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        403: { description: 'Needs the admin role', content: problemContent },
      },
    }),
    async (c) => {
      const { code } = c.req.valid('param');
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const saved = await saveSupplier(
        deps,
        { tenantId: principal.tenantId, actor: actorOf(principal), requestId: c.get('requestId') },
        code,
        body,
      );
      if ('field' in saved) return invalidField(c, `body.${saved.field}`, saved.message);
      const { row, created } = saved;
      return c.json(view(row), created ? 201 : 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/suppliers',
      tags: ['Suppliers'],
      summary: 'The tenant’s suppliers, by code',
      security: [{ apiKey: [] }],
      responses: {
        200: {
          description: 'Suppliers',
          content: { 'application/json': { schema: z.object({ suppliers: z.array(Supplier) }) } },
        },
        401: { description: 'No valid API key', content: problemContent },
      },
    }),
    async (c) => {
      const rows = await listSuppliers(db, c.get('principal').tenantId);
      return c.json({ suppliers: rows.map(view) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/suppliers/{code}',
      tags: ['Suppliers'],
      summary: 'One supplier',
      security: [{ apiKey: [] }],
      request: { params: CodeParam },
      responses: {
        200: { description: 'The supplier', content: { 'application/json': { schema: Supplier } } },
        400: { description: 'Invalid request', content: problemContent },
        401: { description: 'No valid API key', content: problemContent },
        404: { description: 'No such supplier for this tenant', content: problemContent },
      },
    }),
    async (c) => {
      const { code } = c.req.valid('param');
      const row = await supplierByCode(db, c.get('principal').tenantId, code);
      if (!row) {
        return problemJson(c, 404, {
          type: problemType('not-found'),
          title: 'Supplier not found',
          detail: `No supplier ${code}.`,
        });
      }
      return c.json(view(row), 200);
    },
  );
}
