import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApiKey } from '../../api/apiKeys.js';
import { createApp } from '../../api/app.js';
import type { ApiDeps } from '../../api/context.js';
import { createApiMetrics } from '../../api/metrics.js';
import type { Check } from '../../api/routes/health.js';
import { createDb, type Db } from '../../db/client.js';
import { ensureTenant } from '../../db/tenants.js';
import type { Role } from '../../domain/roles.js';
import { createLogger } from '../../runtime/logger.js';
import { createTemporalClient } from '../../runtime/temporal.js';
import { testConfig } from './config.js';

export interface TestApi {
  url: string;
  deps: ApiDeps;
  stop(): Promise<void>;
}

/** The real API app served over HTTP on a free port, wired to the run's database and Temporal server. */
export async function startTestApi(
  options: { env?: Record<string, string>; checks?: Record<string, Check> } = {},
): Promise<TestApi> {
  const config = testConfig(options.env);
  if (!config.database.url) throw new Error('the test run has no database');
  const db = createDb(config.database.url, 5);
  const { client: temporal, connection } = createTemporalClient(config);
  const deps: ApiDeps = { config, db, temporal, logger: createLogger(config, 'api-test') };
  const app = createApp(deps, { metrics: createApiMetrics(), version: 'test', checks: options.checks });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deps,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.destroy();
      await connection.close();
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
  };
}
