import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { addAddress, addContact, findCompany, saveCompany } from '../../db/companies.js';
import {
  CompanyId,
  CompanyRequest,
  ContactRole,
  NewAddress,
  NewContact,
} from '../../domain/company.schema.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { changeBy, json } from './shared.js';

const CompanyParam = z.object({ companyId: CompanyId });
const Company = z
  .object({
    companyId: z.string(),
    name: z.string(),
    contacts: z.array(
      z.object({
        contactId: z.uuid(),
        name: z.string(),
        email: z.string(),
        phone: z.string().nullable(),
        roles: z.array(ContactRole),
      }),
    ),
    primaryContacts: z.record(z.string(), z.uuid()).describe('The primary contact of each role'),
    addresses: z.array(
      z.object({
        addressId: z.uuid(),
        label: z.string(),
        street: z.string(),
        postcode: z.string(),
        city: z.string(),
        country: z.string(),
        defaultShipping: z.boolean(),
        defaultBilling: z.boolean(),
      }),
    ),
  })
  .openapi('Company');
const responses = {
  400: { description: 'Invalid request', content: problemContent },
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'Needs the coordinator or finance role', content: problemContent },
  404: { description: 'No such company', content: problemContent },
};

/** Companies hardware is sold to: their contacts (roles, a primary per role) and their address book. */
export function registerCompanyRoutes(app: OpenAPIHono<ApiEnv>, { db }: ApiDeps): void {
  const notFound = (c: Context, companyId: string) =>
    problemJson(c, 404, {
      type: problemType('not-found'),
      title: 'Company not found',
      detail: `No company ${companyId}.`,
    });
  const change = (c: Context<ApiEnv>, companyKey: string) => ({ ...changeBy(c), companyKey });
  const answer = async (c: Context<ApiEnv>, companyId: string, status: 200 | 201) => {
    const company = await findCompany(db, c.get('principal').tenantId, companyId);
    return company ? c.json(company, status) : notFound(c, companyId);
  };

  app.openapi(
    createRoute({
      method: 'put',
      path: '/v1/companies/{companyId}',
      tags: ['Companies'],
      summary: 'Creates a company or renames it (coordinator, finance)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: { params: CompanyParam, body: { required: true, content: json(CompanyRequest) } },
      responses: {
        201: { description: 'Created', content: json(Company) },
        200: { description: 'Renamed', content: json(Company) },
        ...responses,
      },
    }),
    async (c) => {
      const { companyId } = c.req.valid('param');
      const { created } = await saveCompany(db, { ...change(c, companyId), name: c.req.valid('json').name });
      return (await answer(c, companyId, created ? 201 : 200)) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/companies/{companyId}',
      tags: ['Companies'],
      summary: 'A company with its contacts, primary contacts and address book',
      security: [{ apiKey: [] }],
      request: { params: CompanyParam },
      responses: { 200: { description: 'The company', content: json(Company) }, ...responses },
    }),
    async (c) => (await answer(c, c.req.valid('param').companyId, 200)) as never,
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/companies/{companyId}/contacts',
      tags: ['Companies'],
      summary: 'Adds a contact with its roles, optionally as the primary contact for some of them',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: { params: CompanyParam, body: { required: true, content: json(NewContact) } },
      responses: {
        201: { description: 'Added', content: json(Company) },
        409: { description: 'The company has a contact with that email', content: problemContent },
        ...responses,
      },
    }),
    async (c) => {
      const { companyId } = c.req.valid('param');
      const added = await addContact(db, { ...change(c, companyId), contact: c.req.valid('json') });
      if (added === 'no_company') return notFound(c, companyId);
      if (added === 'email_taken')
        return problemJson(c, 409, {
          type: problemType('conflict'),
          title: 'Contact exists',
          detail: 'The company has a contact with that email.',
        });
      return (await answer(c, companyId, 201)) as never;
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/companies/{companyId}/addresses',
      tags: ['Companies'],
      summary: 'Adds an address to the company’s book; a new default replaces the old one of its kind',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator', 'finance')] as const,
      request: { params: CompanyParam, body: { required: true, content: json(NewAddress) } },
      responses: { 201: { description: 'Added', content: json(Company) }, ...responses },
    }),
    async (c) => {
      const { companyId } = c.req.valid('param');
      const added = await addAddress(db, { ...change(c, companyId), address: c.req.valid('json') });
      if (added === 'no_company') return notFound(c, companyId);
      return (await answer(c, companyId, 201)) as never;
    },
  );
}
