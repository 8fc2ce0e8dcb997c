import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { ZodError } from 'zod';

/** RFC 9457 problem details. Extension members (errors, checks…) sit beside the standard ones. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export interface FieldError {
  field: string;
  message: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemType(slug: string): string {
  return `urn:flowdesk:problem:${slug}`;
}

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
  });
}

const TARGET_PREFIX: Record<string, string> = {
  json: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
};

/** Names each bad field the way a client sees it: `body.customer.email`, `query.limit`. */
export function fieldErrors(error: ZodError, target: string): FieldError[] {
  const prefix = TARGET_PREFIX[target] ?? target;
  return error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].join('.'),
    message: issue.message,
  }));
}

export function validationProblem(errors: FieldError[], instance?: string): Problem {
  return {
    type: problemType('validation'),
    title: 'Invalid request',
    status: 400,
    detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
    instance,
    errors,
  };
}

/** The problem document as the OpenAPI routes declare it. */
export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number(),
    detail: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');
export type ProblemBody = z.infer<typeof ProblemSchema>;
export const problemContent = { 'application/problem+json': { schema: ProblemSchema } };

/** A problem answer from a typed route, for a status the route declares. */
export function problemJson<S extends 400 | 403 | 404 | 409 | 503>(
  c: Context,
  status: S,
  body: Omit<ProblemBody, 'status'>,
) {
  return c.json({ ...body, status } satisfies ProblemBody, status, { 'content-type': PROBLEM_CONTENT_TYPE });
}

/** 400 naming the one field a check beyond the schema refused (a supplier that is not the tenant's, say). */
export function invalidField(c: Context, field: string, message: string) {
  return problemJson(c, 400, validationProblem([{ field, message }]));
}
