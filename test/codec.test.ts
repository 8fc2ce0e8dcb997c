import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EncryptionCodec,
  newPayloadKey,
  type PayloadKey,
  parsePayloadKeys,
} from '../runtime/payloadCodec.js';
import { createTestTenant, startTestApi, type TestApi } from './helpers/api.js';
import { testConfig } from './helpers/config.js';

const keys = (setting: string) => parsePayloadKeys(setting) as PayloadKey[];
const json = (value: unknown) => ({
  metadata: { encoding: new TextEncoder().encode('json/plain') },
  data: new TextEncoder().encode(JSON.stringify(value)),
});
const text = (bytes?: Uint8Array | null) => new TextDecoder().decode(bytes ?? new Uint8Array());

describe('the payload codec', () => {
  it('encrypts every payload with the first key, names the key, and decrypts with any configured key', async () => {
    const old = newPayloadKey('old');
    const before = new EncryptionCodec(keys(old));
    const [sealed] = await before.encode([json({ email: 'mary@example.com' })]);
    expect(text(sealed?.metadata?.encoding)).toBe('binary/encrypted');
    expect(text(sealed?.metadata?.['encryption-key-id'])).toBe('old');
    expect(Buffer.from(sealed?.data ?? []).toString('latin1')).not.toContain('mary');

    // Rotation: a new first key for new payloads; the old one still opens what it sealed.
    const rotated = new EncryptionCodec(keys(`${newPayloadKey('new')},${old}`));
    const [opened] = await rotated.decode(sealed ? [sealed] : []);
    expect(JSON.parse(text(opened?.data))).toEqual({ email: 'mary@example.com' });
    const [resealed] = await rotated.encode([json(1)]);
    expect(text(resealed?.metadata?.['encryption-key-id'])).toBe('new');

    // Without the old key, a clear error naming the key id; a payload changed in storage does not open.
    await expect(
      new EncryptionCodec(keys(newPayloadKey('new'))).decode(sealed ? [sealed] : []),
    ).rejects.toThrow('no payload key "old"');
    const tampered = { ...sealed, data: Buffer.from(sealed?.data ?? []).fill(1, 20, 21) };
    await expect(before.decode([tampered])).rejects.toThrow();
    // Payloads written before encryption pass through.
    const plain = json({ kept: true });
    expect(await before.decode([plain])).toEqual([plain]);
  });

  it('refuses keys it cannot use, without echoing them', () => {
    expect(parsePayloadKeys('k1:short')).toMatch(/key "k1" must be 32 bytes/);
    expect(parsePayloadKeys('no-colon')).toMatch(/entry 1 must be/);
    const twice = `k1:${randomBytes(32).toString('base64')}`;
    expect(parsePayloadKeys(`${twice},${twice}`)).toBe('key id "k1" is given twice');
  });
});

describe('the codec endpoint', () => {
  let api: TestApi;
  let coordinator: string;
  let viewer: string;
  const uiOrigin = new URL(testConfig().temporal.uiUrl).origin;

  beforeAll(async () => {
    api = await startTestApi();
    const tenant = await createTestTenant(api.deps.db);
    coordinator = await tenant.key(['coordinator']);
    viewer = await tenant.key(['viewer']);
  });
  afterAll(() => api?.stop());

  const body = (payloads: { metadata: Record<string, string>; data: string }[]) =>
    JSON.stringify({ payloads });
  const plain = {
    metadata: { encoding: Buffer.from('json/plain').toString('base64') },
    data: Buffer.from('{"email":"mary@example.com"}').toString('base64'),
  };
  const post = (direction: string, payloads: unknown, headers: Record<string, string> = {}) =>
    fetch(`${api.url}/codec/${direction}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
      body: body(payloads as never),
    });

  it('decodes for admins and coordinators only, for its own namespace', async () => {
    expect((await post('encode', [plain])).status).toBe(401);
    expect((await post('encode', [plain], { authorization: `Bearer ${viewer}` })).status).toBe(401);
    const sealed = await post('encode', [plain], { authorization: `Bearer ${coordinator}` });
    expect(sealed.status).toBe(200);
    const { payloads } = (await sealed.json()) as { payloads: (typeof plain)[] };
    expect(Buffer.from(payloads[0]?.metadata.encoding ?? '', 'base64').toString()).toBe('binary/encrypted');
    expect((await post('decode', payloads)).status).toBe(401);
    const opened = await post('decode', payloads, { authorization: `Bearer ${coordinator}` });
    expect(await opened.json()).toEqual({ payloads: [plain] });
    const elsewhere = await post('decode', payloads, {
      authorization: `Bearer ${coordinator}`,
      'x-namespace': 'another',
    });
    expect(elsewhere.status).toBe(400);
  });

  it('lets the Temporal UI call from its origin only, and a browser session end with its key', async () => {
    const preflight = await fetch(`${api.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: uiOrigin, 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    const foreign = await fetch(`${api.url}/codec/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();

    const refused = await fetch(`${api.url}/codec/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: viewer }),
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('set-cookie')).toBeNull();
    const signedIn = await fetch(`${api.url}/codec/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: coordinator }),
    });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const session = cookie.split(';')[0] ?? '';
    const decoded = await post('encode', [plain], { cookie: session, origin: uiOrigin });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(uiOrigin);

    // Revoking the key ends the session at once.
    const prefix = /^fdk_([0-9a-f]{12})_/.exec(coordinator)?.[1] ?? '';
    await api.deps.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('prefix', '=', prefix)
      .execute();
    // The refusal is readable by the UI too (a refusal without CORS headers is a network error to a browser).
    const afterRevoke = await post('encode', [plain], { cookie: session, origin: uiOrigin });
    expect(afterRevoke.status).toBe(401);
    expect(afterRevoke.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    const forged = session.replace(/.$/, (last) => (last === 'A' ? 'B' : 'A'));
    expect((await post('encode', [plain], { cookie: forged })).status).toBe(401);
  });
});
