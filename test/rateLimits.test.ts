import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressList, clientAddress } from '../api/clientAddress.js';
import { apiClient, createTestTenant, startTestApi, type TestApi } from './helpers/api.js';

describe('rate limits', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi({
      env: { RATE_LIMIT_PER_KEY: '3', RATE_LIMIT_PER_ADDRESS: '2', TRUSTED_PROXIES: '127.0.0.1' },
    });
  });
  afterAll(() => api?.stop());

  it('count each API key on /v1, say where it stands, and answer 429 problem+json past the limit', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const [one, other] = [await tenant.key(['viewer']), await tenant.key(['viewer'])];
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await apiClient(api.url, one).get('/v1/me'));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 429]);
    expect(answers[0]?.headers.get('ratelimit-policy')).toBe('"per-key";q=3;w=60');
    expect(answers.map((answer) => answer.headers.get('ratelimit')?.split(';')[1])).toEqual([
      'r=2',
      'r=1',
      'r=0',
      'r=0',
    ]);
    const refused = answers[3];
    expect(refused?.headers.get('content-type')).toBe('application/problem+json');
    expect(refused?.body).toMatchObject({ status: 429, title: 'Too many requests' });
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await apiClient(api.url, other).get('/v1/me')).status).toBe(200);
  });

  it('count each customer on the public pages, by the address a trusted proxy forwards', async () => {
    const page = (client: string) =>
      fetch(`${api.url}/pay/${randomUUID()}?token=forged`, {
        headers: { 'x-forwarded-for': `${client}, 127.0.0.1` },
      });
    const first = [await page('203.0.113.7'), await page('203.0.113.7'), await page('203.0.113.7')];
    expect(first.map((answer) => answer.status)).toEqual([403, 403, 429]);
    expect((await page('198.51.100.23')).status).toBe(403);
  });

  it('count each address trying passwords on the console', async () => {
    const signIn = () =>
      fetch(`${api.url}/console/sign-in`, {
        method: 'POST',
        headers: {
          'x-forwarded-for': '203.0.113.99, 127.0.0.1',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'email=ops%40example.com&password=guess',
      });
    const answers = [await signIn(), await signIn(), await signIn()];
    expect(answers.map((answer) => answer.status)).toEqual([403, 403, 429]);
    // People get a page saying what happened and how long to wait, not a program's problem+json.
    const refused = answers[2];
    expect(refused?.headers.get('content-type')).toMatch(/^text\/html/);
    expect(Number(refused?.headers.get('retry-after'))).toBeGreaterThan(0);
    const page = (await refused?.text()) ?? '';
    expect(page).toContain('Too many tries');
    expect(page).toMatch(/try again in \d+ s/);
  });
});

describe('the client address', () => {
  let url: string;
  let close: () => void;
  beforeAll(async () => {
    const app = new Hono()
      .get('/trusting', (c) => c.text(clientAddress(c, addressList(['127.0.0.0/8']))))
      .get('/not-trusting', (c) => c.text(clientAddress(c, addressList(['10.0.0.1']))));
    const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close?.());

  const seen = async (path: string, forwarded?: string) =>
    (await fetch(`${url}${path}`, { headers: forwarded ? { 'x-forwarded-for': forwarded } : {} })).text();

  it('is the connection, unless it comes from a trusted proxy; then the nearest untrusted forwarded hop', async () => {
    expect(await seen('/not-trusting', '203.0.113.7')).toBe('127.0.0.1');
    expect(await seen('/trusting')).toBe('127.0.0.1');
    expect(await seen('/trusting', '203.0.113.7')).toBe('203.0.113.7');
    // A client that writes its own X-Forwarded-For gains nothing: the hop the proxy added is the one believed.
    expect(await seen('/trusting', '198.51.100.1, 203.0.113.7, 127.0.0.2')).toBe('203.0.113.7');
  });
});
