import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import {
  readCycles,
  readSla,
  readUrgentRules,
  readWorkingHours,
  saveCycles,
  saveSla,
  saveUrgentRules,
  saveWorkingHours,
} from '../../db/analytics/settings.js';
import { findSource } from '../../db/analytics/sources.js';
import type { Db } from '../../db/client.js';
import {
  CycleSettings,
  SlaSettings,
  UrgentRuleSettings,
  WorkingHoursSettings,
} from '../../domain/analytics.schema.js';
import { requireRole } from '../auth.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { problemContent } from '../problem.js';
import { changeBy, json, notFoundNamed } from './shared.js';

type Change = ReturnType<typeof changeBy> & { sourceId: string };

/** One part of a source's settings: its path, schema, and how it is read and replaced (db/analytics/settings.ts). */
interface Part<S extends z.ZodType> {
  path: string;
  name: string;
  description: string;
  schema: S;
  read(db: Db, tenantId: string, sourceId: string): Promise<z.infer<S>>;
  save(db: Db, change: Change, settings: z.infer<S>): Promise<z.infer<S>>;
}

const PARTS = [
  {
    path: 'working-hours',
    name: 'working hours',
    description:
      'Calendars per status group (`*`: the source’s default): working windows per weekday in a time zone, and ' +
      'holidays. A duration counts only its overlap with its group’s calendar; without calendars, 24/7.',
    schema: WorkingHoursSettings.openapi('WorkingHoursSettings'),
    read: readWorkingHours,
    save: saveWorkingHours,
  } satisfies Part<typeof WorkingHoursSettings>,
  {
    path: 'sla',
    name: 'SLA grids',
    description:
      'Per profile and status group, the normal and the urgent limit (hours:minutes) of a stay in the group, ' +
      'and the fraction of a limit from which a stay is `near` it.',
    schema: SlaSettings.openapi('SlaSettings'),
    read: readSla,
    save: saveSla,
  } satisfies Part<typeof SlaSettings>,
  {
    path: 'cycles',
    name: 'cycles',
    description: 'Named cycles, each from a group or status to a later one (“to delivery”, “full cycle”).',
    schema: CycleSettings.openapi('CycleSettings'),
    read: readCycles,
    save: saveCycles,
  } satisfies Part<typeof CycleSettings>,
  {
    path: 'urgent-rules',
    name: 'urgent rules',
    description: 'An order is urgent when one of its items has one of these SKUs, offer ids or product ids.',
    schema: UrgentRuleSettings.openapi('UrgentRuleSettings'),
    read: readUrgentRules,
    save: saveUrgentRules,
  } satisfies Part<typeof UrgentRuleSettings>,
] as const;

/**
 * A source's analytics settings, admin only, each part read and replaced whole. A change is audited (who, when,
 * before and after) and recomputes nothing: figures are computed from the log with the settings of the moment.
 */
export function registerAnalyticsSettingsRoutes(app: OpenAPIHono<ApiEnv>, { db }: ApiDeps): void {
  const params = z.object({ sourceId: z.uuid() });
  const failures = {
    401: { description: 'No valid API key', content: problemContent },
    403: { description: 'Needs the admin role', content: problemContent },
    404: { description: 'No such source', content: problemContent },
  } as const;

  // Built once per part, so the handlers' answers are typed as the general schema's (`as never`), as in codec.ts.
  for (const part of PARTS as readonly Part<z.ZodType>[]) {
    const path = `/v1/analytics/sources/{sourceId}/settings/${part.path}`;
    app.openapi(
      createRoute({
        method: 'get',
        path,
        tags: ['Analytics'],
        summary: `A source’s ${part.name} (admin)`,
        description: part.description,
        security: [{ apiKey: [] }],
        middleware: [requireRole()] as const,
        request: { params },
        responses: {
          200: { description: 'The settings', content: json(part.schema) },
          400: { description: 'Invalid request', content: problemContent },
          ...failures,
        },
      }),
      async (c) => {
        const { tenantId } = c.get('principal');
        const { sourceId } = c.req.valid('param');
        if (!(await findSource(db, tenantId, sourceId)))
          return notFoundNamed(c, 'path.sourceId', `source ${sourceId}`) as never;
        return c.json(await part.read(db, tenantId, sourceId), 200) as never;
      },
    );
    app.openapi(
      createRoute({
        method: 'put',
        path,
        tags: ['Analytics'],
        summary: `Replaces a source’s ${part.name} (admin, audited)`,
        description: part.description,
        security: [{ apiKey: [] }],
        middleware: [requireRole()] as const,
        request: { params, body: { required: true, content: json(part.schema) } },
        responses: {
          200: { description: 'Saved, as now in force', content: json(part.schema) },
          400: { description: 'Invalid request', content: problemContent },
          ...failures,
        },
      }),
      async (c) => {
        const change = changeBy(c);
        const { sourceId } = c.req.valid('param');
        if (!(await findSource(db, change.tenantId, sourceId)))
          return notFoundNamed(c, 'path.sourceId', `source ${sourceId}`) as never;
        return c.json(await part.save(db, { ...change, sourceId }, c.req.valid('json')), 200) as never;
      },
    );
  }
}
