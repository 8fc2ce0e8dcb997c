import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { sql } from 'kysely';
import type { Db } from '../../db/client.js';
import type { TemporalProbe } from '../../runtime/temporal.js';
import type { ApiEnv } from '../context.js';
import { PROBLEM_CONTENT_TYPE, problemType } from '../problem.js';

const CHECK_TIMEOUT_MS = 2_000;

const CheckResult = z
  .object({ status: z.enum(['up', 'down']), error: z.string().optional() })
  .openapi('Check');
type CheckResult = z.infer<typeof CheckResult>;
const Readiness = z
  .object({ status: z.literal('ready'), checks: z.record(z.string(), CheckResult) })
  .openapi('Readiness');
const NotReady = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.literal(503),
    detail: z.string(),
    checks: z.record(z.string(), CheckResult),
  })
  .openapi('NotReady');

export type Check = () => Promise<unknown>;

async function runCheck(check: Check): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export function readinessChecks(db: Db, temporal: TemporalProbe): Record<string, Check> {
  return {
    database: () => sql`select 1`.execute(db),
    temporal: () => temporal.check(Date.now() + CHECK_TIMEOUT_MS),
  };
}

export function registerHealthRoutes(app: OpenAPIHono<ApiEnv>, checks: Record<string, Check>): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['Operations'],
      summary: 'The process is alive',
      responses: {
        200: {
          description: 'Alive',
          content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
        },
      },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['Operations'],
      summary: 'The database and Temporal are reachable',
      responses: {
        200: { description: 'Ready to serve', content: { 'application/json': { schema: Readiness } } },
        503: {
          description: 'A dependency is down',
          content: { 'application/problem+json': { schema: NotReady } },
        },
      },
    }),
    async (c) => {
      const entries = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => [name, await runCheck(check)] as const),
      );
      const results: Record<string, CheckResult> = Object.fromEntries(entries);
      const down = entries.filter(([, result]) => result.status === 'down');
      if (down.length === 0) return c.json({ status: 'ready' as const, checks: results }, 200);
      const problem = {
        type: problemType('not-ready'),
        title: 'Not ready',
        status: 503 as const,
        detail: down.map(([name, result]) => `${name} is unreachable: ${result.error}`).join('; '),
        checks: results,
      };
      return c.json(problem, 503, { 'content-type': PROBLEM_CONTENT_TYPE });
    },
  );
}
