import { randomUUID } from 'node:crypto';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { convertLead, createLead, findLead, leadIdFor, listLeads, loseLead } from '../../db/leads.js';
import { projectSettingsOf } from '../../db/projectSetup.js';
import { LEAD_STATES, leadToInstallFlow, projectNews } from '../../domain/leadToInstall.js';
import {
  ConvertLead,
  LeadCustomer,
  LoseLead,
  NewLead,
  SiteAddress,
} from '../../domain/leadToInstall.schema.js';
import { BusinessId } from '../../domain/proposal.js';
import type { leadToInstall } from '../../workflows/leadToInstall.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { invalidField, problemContent, problemJson, problemType } from '../problem.js';
import { leadScope } from '../scopes.js';
import { startFlow } from '../startFlow.js';
import { actorOf, json, signalIfRunning } from './shared.js';

const LeadParam = z.object({ leadId: BusinessId });
const LeadState = z.enum(LEAD_STATES);

const Lead = z
  .object({
    leadId: z.string(),
    state: LeadState,
    source: z.string(),
    customer: LeadCustomer,
    site: SiteAddress,
    systemSizeKwp: z.number().nullable(),
    architectId: z.uuid().nullable(),
    notes: z.string().nullable(),
    qualification: z
      .object({ passed: z.boolean(), failed: z.array(z.string()) })
      .nullable()
      .describe('What the tenant’s rules found; a lead that failed them waits for a coordinator'),
    lostReason: z.string().nullable(),
    flowId: z.string().describe('The leadToInstall flow that runs it'),
    createdAt: z.iso.datetime(),
    project: z
      .object({
        projectId: z.string(),
        state: z.string(),
        title: z.string(),
        installationAt: z.iso.datetime().nullable(),
      })
      .nullable(),
  })
  .openapi('Lead');

const LeadStarted = z
  .object({ leadId: z.string(), flowId: z.string(), created: z.boolean(), status: z.string() })
  .openapi('LeadStarted');
const Converted = z
  .object({ leadId: z.string(), projectId: z.string(), flowId: z.string(), created: z.boolean() })
  .openapi('LeadConverted');

const LeadQuery = z.object({
  state: LeadState.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Leads created before this (the last one seen)'),
});

const refusals = {
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'Not allowed for this key’s roles', content: problemContent },
};

/**
 * Leads: architects (their own) and staff register them, each starting its leadToInstall flow; coordinators
 * convert the qualified ones into projects or mark them lost.
 */
export function registerLeadRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db } = deps;
  const notFound = (c: Parameters<typeof problemJson>[0], leadId: string) =>
    problemJson(c, 404, {
      type: problemType('not-found'),
      title: 'Lead not found',
      detail: `No lead ${leadId}.`,
    });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/leads',
      tags: ['Leads and projects'],
      summary: 'Registers a lead and starts its flow (architect, coordinator); idempotent on leadId',
      security: [{ apiKey: [] }],
      middleware: [requireRole('architect', 'coordinator')] as const,
      request: { body: { required: true, content: json(NewLead) } },
      responses: {
        201: { description: 'Registered', content: json(LeadStarted) },
        200: {
          description: 'This lead was registered before; nothing new was started',
          content: json(LeadStarted),
        },
        400: { description: 'Invalid request', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const principal = c.get('principal');
      const { tenantId, tenantSlug } = principal;
      let architectId = body.architectId ?? null;
      if (leadScope(principal) !== undefined) {
        if (body.architectId)
          return invalidField(c, 'body.architectId', 'an architect’s key registers its own leads');
        if (!principal.architectId)
          return problemJson(c, 403, {
            type: problemType('forbidden'),
            title: 'Not allowed',
            detail: 'This architect key does not name its architect; ask an admin for a new one.',
          });
        architectId = principal.architectId;
      } else if (
        architectId &&
        !(await db
          .selectFrom('architects')
          .select('id')
          .where('tenant_id', '=', tenantId)
          .where('id', '=', architectId)
          .executeTakeFirst())
      )
        return invalidField(c, 'body.architectId', 'no such architect in this tenant');
      const settings = await projectSettingsOf(db, tenantId);
      const leadId = (await leadIdFor(db, tenantId, body.leadId)) ?? randomUUID();
      const flowId = leadToInstallFlow.flowId(tenantSlug, body.leadId);
      const started = await startFlow<typeof leadToInstall>(deps, {
        definition: leadToInstallFlow,
        businessKey: body.leadId,
        tenantId,
        tenantSlug,
        title: `Lead ${body.leadId}: ${body.customer.name}, ${body.site.city}`,
        customer: body.customer.name,
        input: { tenantId, tenantSlug, leadId, leadKey: body.leadId, customer: body.customer, settings },
        records: (trx) =>
          createLead(trx, { ...body, id: leadId, tenantId, flowId, architectId, actor: actorOf(principal) }),
      });
      return c.json(
        { leadId: body.leadId, ...started, status: `/v1/leads/${encodeURIComponent(body.leadId)}` },
        started.created ? 201 : 200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/leads',
      tags: ['Leads and projects'],
      summary: 'Leads, newest first (an architect sees their own)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('architect', 'coordinator', 'viewer', 'finance')] as const,
      request: { query: LeadQuery },
      responses: {
        200: { description: 'A page of leads', content: json(z.object({ leads: z.array(Lead) })) },
        400: { description: 'Invalid request', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const query = c.req.valid('query');
      const leads = await listLeads(db, {
        tenantId: principal.tenantId,
        architectId: leadScope(principal),
        ...query,
      });
      return c.json({ leads }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/leads/{leadId}',
      tags: ['Leads and projects'],
      summary: 'A lead and its project (an architect sees their own)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('architect', 'coordinator', 'viewer', 'finance')] as const,
      request: { params: LeadParam },
      responses: {
        200: { description: 'The lead', content: json(Lead) },
        400: { description: 'Invalid request', content: problemContent },
        404: { description: 'No such lead (or not this architect’s)', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const { leadId } = c.req.valid('param');
      const lead = await findLead(db, {
        tenantId: principal.tenantId,
        leadKey: leadId,
        architectId: leadScope(principal),
      });
      return lead ? c.json(lead, 200) : notFound(c, leadId);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/leads/{leadId}/convert',
      tags: ['Leads and projects'],
      summary: 'Wins a qualified lead: its project is created with the contract to sign (coordinator)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: { params: LeadParam, body: { required: true, content: json(ConvertLead) } },
      responses: {
        201: {
          description: 'Converted: the project exists and its contract goes out',
          content: json(Converted),
        },
        200: { description: 'Converted before; nothing changed', content: json(Converted) },
        400: { description: 'Invalid request', content: problemContent },
        404: { description: 'No such lead', content: problemContent },
        409: { description: 'The lead is not qualified yet, or was lost', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const { leadId } = c.req.valid('param');
      const conversion = await convertLead(db, {
        tenantId: principal.tenantId,
        leadKey: leadId,
        proposal: c.req.valid('json'),
        actor: actorOf(principal),
      });
      if (conversion.result === 'not_found') return notFound(c, leadId);
      if (conversion.result === 'refused')
        return problemJson(c, 409, {
          type: problemType('conflict'),
          title: 'The lead cannot be converted',
          detail: conversion.why,
        });
      await signalIfRunning(deps, conversion.flowId, projectNews, {
        kind: 'leadConverted',
        id: conversion.projectId,
      });
      return c.json(
        {
          leadId,
          projectId: conversion.projectKey,
          flowId: conversion.flowId,
          created: conversion.result === 'converted',
        },
        conversion.result === 'converted' ? 201 : 200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/leads/{leadId}/lose',
      tags: ['Leads and projects'],
      summary: 'Marks an open lead lost, with why (coordinator); its flow ends',
      security: [{ apiKey: [] }],
      middleware: [requireRole('coordinator')] as const,
      request: { params: LeadParam, body: { required: true, content: json(LoseLead) } },
      responses: {
        200: { description: 'Lost (or was already)', content: json(Lead) },
        400: { description: 'Invalid request', content: problemContent },
        404: { description: 'No such lead', content: problemContent },
        409: { description: 'The lead is a project: cancel its flow instead', content: problemContent },
        ...refusals,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const { leadId } = c.req.valid('param');
      const loss = await loseLead(db, {
        tenantId: principal.tenantId,
        leadKey: leadId,
        reason: c.req.valid('json').reason,
        actor: actorOf(principal),
      });
      if (loss.result === 'not_found') return notFound(c, leadId);
      if (loss.result === 'refused')
        return problemJson(c, 409, {
          type: problemType('conflict'),
          title: 'The lead cannot be lost',
          detail: loss.why,
        });
      await signalIfRunning(deps, loss.flowId, projectNews, { kind: 'leadLost' });
      const lead = await findLead(db, { tenantId: principal.tenantId, leadKey: leadId });
      return lead ? c.json(lead, 200) : notFound(c, leadId);
    },
  );
}
