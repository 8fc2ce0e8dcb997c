import { randomBytes } from 'node:crypto';
import { createApiKey } from '../../api/apiKeys.js';
import type { Check } from '../../api/routes/health.js';
import { type RunningApi, startApi } from '../../api/server.js';
import type { Db } from '../../db/client.js';
import { ensureTenant } from '../../db/tenants.js';
import type { Role } from '../../domain/roles.js';
import { createLogger } from '../../runtime/logger.js';
import { testConfig } from './config.js';
import { conformanceChecker } from './conformance.js';

export type TestApi = RunningApi;

/** The real API served over HTTP (on a free port unless given one), wired to the run's database and Temporal. */
export async function startTestApi(
  options: { env?: Record<string, string>; checks?: Record<string, Check>; port?: number } = {},
): Promise<TestApi> {
  const config = testConfig({ HOST: '127.0.0.1', DATABASE_POOL_SIZE: '5', ...options.env });
  let url = '';
  // Every answer the tests receive is checked against the API's own document; stopping reports what did not fit.
  const conformance = conformanceChecker(async () => (await fetch(`${url}/openapi.json`)).json());
  const api = await startApi(config, {
    logger: createLogger(config, 'api-test'),
    version: 'test',
    checks: options.checks,
    port: options.port ?? 0,
    onAnswer: conformance.onAnswer,
  });
  url = api.url;
  return {
    ...api,
    async stop() {
      const violations = await conformance.violations();
      await api.stop();
      if (violations.length > 0)
        throw new Error(`answers the OpenAPI document does not describe:\n${violations.join('\n')}`);
    },
  };
}

export interface TestTenant {
  tenantId: string;
  slug: string;
  /** A plain API key of this tenant with the given roles. */
  key(roles: Role[]): Promise<string>;
}

/** A new tenant of its own, so tests never see each other's rows. */
export async function createTestTenant(db: Db): Promise<TestTenant> {
  const slug = `t-${randomBytes(5).toString('hex')}`;
  const { id } = await ensureTenant(db, slug, `Test tenant ${slug}`);
  return {
    tenantId: id,
    slug,
    key: async (roles) => (await createApiKey(db, { tenantId: id, name: roles.join('+'), roles })).key,
  };
}

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** Fetch with the API key set, parsing JSON and problem+json bodies. */
export function apiClient(baseUrl: string, key?: string) {
  async function request<T = any>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (key) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await response.text();
    const isJson = /json/.test(response.headers.get('content-type') ?? '');
    return {
      status: response.status,
      headers: response.headers,
      body: (isJson ? JSON.parse(text) : text) as T,
      text,
    };
  }
  return {
    request,
    get: <T = any>(path: string) => request<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => request<T>('POST', path, { body }),
    put: <T = any>(path: string, body?: unknown) => request<T>('PUT', path, { body }),
  };
}
