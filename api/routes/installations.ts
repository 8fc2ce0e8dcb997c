import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type JobReport, listJobs } from '../../db/projects.js';
import { CompleteInstallation, ReportProblem, SiteAddress } from '../../domain/leadToInstall.schema.js';
import { BusinessId } from '../../domain/proposal.js';
import type { Principal } from '../apiKeys.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { actOnJob } from '../jobActions.js';
import { problemContent, problemJson, problemType } from '../problem.js';
import { crewScope } from '../scopes.js';
import { actorOf, json } from './shared.js';

const JobParam = z.object({ projectId: BusinessId });
const Job = z
  .object({
    projectId: z.string(),
    title: z.string(),
    state: z.string(),
    installationAt: z.iso.datetime(),
    confirmed: z.boolean().describe('The date is confirmed (the goods are in); a tentative one may move'),
    crewId: z.uuid(),
    site: SiteAddress,
    customer: z.object({ name: z.string(), phone: z.string().optional() }),
    openProblem: z.string().nullable(),
  })
  .openapi('InstallationJob');
const Recorded = z.object({ projectId: z.string(), recorded: z.boolean() }).openapi('JobReport');
const responses = {
  200: { description: 'Recorded (or was already)', content: json(Recorded) },
  400: { description: 'Invalid request', content: problemContent },
  401: { description: 'No valid API key', content: problemContent },
  403: { description: 'Needs the installer or coordinator role', content: problemContent },
  404: { description: 'No such job for this crew', content: problemContent },
  409: { description: 'The job is not in a state for this', content: problemContent },
};

/** The crews' side of an installation: their jobs, starting one, completing it with its checklist, problems. */
export function registerInstallationRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db } = deps;

  const answer = (c: Context, projectId: string, report: JobReport) => {
    if (report.result === 'not_found')
      return problemJson(c, 404, {
        type: problemType('not-found'),
        title: 'Job not found',
        detail: `No job ${projectId} for this crew.`,
      });
    if (report.result === 'refused')
      return problemJson(c, 409, {
        type: problemType('conflict'),
        title: 'Not possible now',
        detail: report.why,
      });
    return c.json({ projectId, recorded: report.result === 'recorded' }, 200);
  };
  const crewOf = (principal: Principal) => ({
    tenantId: principal.tenantId,
    crewId: crewScope(principal),
    actor: actorOf(principal),
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/jobs',
      tags: ['Installations'],
      summary: 'Installation jobs, soonest first (a crew sees its own)',
      security: [{ apiKey: [] }],
      middleware: [requireRole('installer', 'coordinator')] as const,
      responses: {
        200: { description: 'Scheduled and in progress', content: json(z.object({ jobs: z.array(Job) })) },
        401: responses[401],
        403: responses[403],
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      return c.json(
        { jobs: await listJobs(db, { tenantId: principal.tenantId, crewId: crewScope(principal) }) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/jobs/{projectId}/start',
      tags: ['Installations'],
      summary: 'The crew starts the installation (its date confirmed): the project is IN_PROGRESS',
      security: [{ apiKey: [] }],
      middleware: [requireRole('installer', 'coordinator')] as const,
      request: { params: JobParam },
      responses,
    }),
    async (c) => {
      const principal = c.get('principal');
      const { projectId } = c.req.valid('param');
      return answer(c, projectId, await actOnJob(deps, crewOf(principal), projectId, { kind: 'start' }));
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/jobs/{projectId}/complete',
      tags: ['Installations'],
      summary: 'The crew completes the installation with its checklist and notes: the project is DONE',
      security: [{ apiKey: [] }],
      middleware: [requireRole('installer', 'coordinator')] as const,
      request: { params: JobParam, body: { required: true, content: json(CompleteInstallation) } },
      responses,
    }),
    async (c) => {
      const principal = c.get('principal');
      const { projectId } = c.req.valid('param');
      const body = c.req.valid('json');
      const report = await actOnJob(deps, crewOf(principal), projectId, {
        kind: 'complete',
        checklist: body.checklist,
        notes: body.notes,
      });
      return answer(c, projectId, report);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/jobs/{projectId}/problems',
      tags: ['Installations'],
      summary: 'The crew reports a problem at the installation: the project needs a coordinator',
      security: [{ apiKey: [] }],
      middleware: [requireRole('installer', 'coordinator')] as const,
      request: { params: JobParam, body: { required: true, content: json(ReportProblem) } },
      responses,
    }),
    async (c) => {
      const principal = c.get('principal');
      const { projectId } = c.req.valid('param');
      const report = await actOnJob(deps, crewOf(principal), projectId, {
        kind: 'problem',
        description: c.req.valid('json').description,
      });
      return answer(c, projectId, report);
    },
  );
}
