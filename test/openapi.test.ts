import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startTestApi, type TestApi } from './helpers/api.js';

/**
 * The OpenAPI document, checked by tools that are not the ones that wrote it: the OpenAPI 3.1 schema, and
 * Redocly's recommended rules.
 */
describe('the OpenAPI document', () => {
  let api: TestApi;
  let document: {
    paths: Record<string, Record<string, { operationId?: string; security?: unknown[]; tags?: string[] }>>;
    tags: { name: string }[];
    components: { securitySchemes: Record<string, unknown> };
  };
  beforeAll(async () => {
    api = await startTestApi();
    document = (await apiClient(api.url).get('/openapi.json')).body;
  });
  afterAll(() => api?.stop());

  const operations = () =>
    Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );

  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('passes Redocly’s recommended rules with no errors', async () => {
    const problems = await lintFromString({
      source: JSON.stringify(document),
      absoluteRef: 'openapi.json',
      config: await createConfig({ extends: ['recommended'] }),
    });
    const errors = problems
      .filter((problem) => problem.severity === 'error')
      .map((problem) => `${problem.ruleId}: ${problem.message} at ${problem.location[0]?.pointer}`);
    expect(errors).toEqual([]);
  });

  it('names every operation once, declares its tags, and says how each one is authenticated', () => {
    const ids = operations().map(({ operation }) => operation.operationId);
    expect(ids.every(Boolean)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const declared = new Set(document.tags.map((tag) => tag.name));
    for (const { operation } of operations())
      for (const tag of operation.tags ?? []) expect(declared).toContain(tag);
    for (const { path, method, operation } of operations())
      expect(operation.security, `${method} ${path}`).toBeDefined();
    expect(document.paths['/webhooks/stripe']?.post?.security).toEqual([{ stripeSignature: [] }]);
    expect(document.components.securitySchemes.supplierSignature).toMatchObject({
      in: 'header',
      name: 'Supplier-Signature',
    });
    expect(document.paths['/healthz']?.get?.security).toEqual([]);
    const pay = document.paths['/pay/{invoiceId}']?.get as {
      responses: Record<string, { headers?: object }>;
    };
    expect(pay.responses['303']?.headers).toHaveProperty('Location');
  });
});
