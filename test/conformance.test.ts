import { describe, expect, it } from 'vitest';
import { conformanceChecker } from './helpers/conformance.js';

/** The check every test API runs on its answers (test/helpers/api.ts) catches what the document does not say. */
describe('the conformance check', () => {
  const document = {
    openapi: '3.1.0',
    paths: {
      '/things/{id}': {
        get: {
          responses: {
            200: {
              content: {
                'application/json': {
                  schema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
                },
              },
            },
          },
        },
      },
    },
  };
  const json = (status: number, body: unknown, type = 'application/json') =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });

  it('passes a documented answer and names each one that is not', async () => {
    const checker = conformanceChecker(async () => document);
    checker.onAnswer({ method: 'GET', path: '/things/1' }, json(200, { id: 'a' }));
    checker.onAnswer({ method: 'GET', path: '/things/2' }, json(200, { id: 2 }));
    checker.onAnswer(
      { method: 'GET', path: '/things/3' },
      json(409, { title: 'no' }, 'application/problem+json'),
    );
    checker.onAnswer({ method: 'GET', path: '/things/4' }, json(200, { id: 'a' }, 'text/html'));
    checker.onAnswer({ method: 'DELETE', path: '/things/5' }, json(200, {}));
    expect((await checker.violations()).sort()).toEqual([
      'DELETE /things/5 → 200: no such operation in the document',
      'GET /things/2 → 200: body does not fit: data/id must be string',
      'GET /things/3 → 409: status not documented',
      'GET /things/4 → 200: text/html, documented application/json',
    ]);
  });
});
