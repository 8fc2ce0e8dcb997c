import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Payload } from '@temporalio/common';
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { cors } from 'hono/cors';
import { html } from 'hono/html';
import type { Db } from '../../db/client.js';
import type { Role } from '../../domain/roles.js';
import { requireSetting } from '../../runtime/config.js';
import { EncryptionCodec, type PayloadKey } from '../../runtime/payloadCodec.js';
import { rolesOfWorkingKey, verifyApiKey } from '../apiKeys.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { HtmlPage, page } from '../pages.js';
import { problemContent, problemResponse, problemType } from '../problem.js';

/**
 * Temporal's codec-server protocol (POST …/encode, …/decode, Payloads as protobuf JSON) over Flowdesk's payload
 * codec, so the Temporal Web UI and CLI show decrypted payloads to staff, and to nobody else. Decrypting is not
 * scoped to a tenant (a payload does not say whose it is), so it takes an admin or coordinator key: as a Bearer
 * token (the CLI's `--codec-auth`), or the session a browser gets at /codec/session (the UI sends it when its
 * codec setting includes cross-origin credentials). A revoked key's session ends at once.
 */
const DECODERS: readonly Role[] = ['admin', 'coordinator'];
const SESSION_COOKIE = 'flowdesk_codec';
const SESSION_HOURS = 8;

const Payloads = z
  .object({
    payloads: z
      .array(
        z.object({
          metadata: z.record(z.string(), z.base64()).optional(),
          data: z.base64().optional(),
        }),
      )
      .max(1_000),
  })
  .openapi('Payloads', { description: 'temporal.api.common.v1.Payloads as protobuf JSON (bytes in base64)' });
type PayloadsJson = z.infer<typeof Payloads>;

const fromJson = ({ payloads }: PayloadsJson): Payload[] =>
  payloads.map((payload) => ({
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(payload.data ?? '', 'base64'),
  }));

const toJson = (payloads: Payload[]): PayloadsJson => ({
  payloads: payloads.map((payload) => ({
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([key, value]) => [
        key,
        Buffer.from(value).toString('base64'),
      ]),
    ),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  })),
});

/** A browser session: the key it stands for, until when, sealed with a key derived from the payload key. */
function sessionSeal(keys: readonly PayloadKey[]) {
  const [current] = keys;
  if (!current) throw new Error('no payload key');
  const secret = Buffer.from(hkdfSync('sha256', current.key, Buffer.alloc(0), 'flowdesk codec session', 32));
  const mac = (body: string) => createHmac('sha256', secret).update(body).digest('base64url');
  return {
    seal: (keyId: string, until: number) => `${keyId}.${until}.${mac(`${keyId}.${until}`)}`,
    open(token: string | undefined): string | undefined {
      const [keyId, until, presented] = (token ?? '').split('.');
      if (!keyId || !until || !presented || Number(until) < Date.now()) return undefined;
      const expected = Buffer.from(mac(`${keyId}.${until}`));
      const actual = Buffer.from(presented);
      return expected.length === actual.length && timingSafeEqual(expected, actual) ? keyId : undefined;
    },
  };
}

const mayDecode = (roles: readonly string[]) => roles.some((role) => DECODERS.includes(role as Role));

/** Whether the session's key still exists, is neither revoked nor expired, and may decode. */
async function sessionKeyValid(db: Db, keyId: string): Promise<boolean> {
  const roles = await rolesOfWorkingKey(db, keyId);
  return roles !== undefined && mayDecode(roles);
}

export function registerCodecRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;
  const keys = requireSetting(config.temporal.payloadKeys, 'PAYLOAD_KEYS');
  const codec = new EncryptionCodec(keys);
  const session = sessionSeal(keys);
  const uiOrigin = new URL(config.temporal.uiUrl).origin;
  const secure = new URL(config.api.publicUrl).protocol === 'https:';

  /** The Temporal UI calls from its own origin, with the session cookie when staff have it include credentials. */
  app.use(
    '/codec/*',
    cors({
      origin: uiOrigin,
      credentials: true,
      allowMethods: ['POST'],
      allowHeaders: ['content-type', 'x-namespace', 'authorization'],
      maxAge: 600,
    }),
  );

  async function allowed(c: Context<ApiEnv>): Promise<boolean> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    if (bearer) {
      const principal = await verifyApiKey(db, bearer);
      return principal !== null && mayDecode(principal.roles);
    }
    const keyId = session.open(getCookie(c, SESSION_COOKIE));
    return keyId !== undefined && (await sessionKeyValid(db, keyId));
  }

  for (const direction of ['encode', 'decode'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/codec/${direction}`,
        tags: ['Temporal codec'],
        summary: `${direction === 'decode' ? 'Decrypts' : 'Encrypts'} Temporal payloads (Temporal's codec-server protocol)`,
        description:
          'For the Temporal Web UI and CLI. An admin or coordinator API key as a Bearer token, or the session ' +
          'cookie from /codec/session. `X-Namespace` must be Flowdesk’s namespace.',
        request: {
          headers: z.object({ 'x-namespace': z.string().optional() }),
          body: { required: true, content: { 'application/json': { schema: Payloads } } },
        },
        responses: {
          200: { description: 'The payloads', content: { 'application/json': { schema: Payloads } } },
          400: { description: 'Not Payloads, or another namespace', content: problemContent },
          401: { description: 'No valid admin or coordinator key or session', content: problemContent },
        },
      }),
      async (c) => {
        if (!(await allowed(c)))
          return problemResponse(
            {
              type: problemType('unauthenticated'),
              title: 'Authentication required',
              status: 401,
              detail: 'Decoding needs an admin or coordinator key (Bearer) or a session from /codec/session.',
            },
            { 'www-authenticate': 'Bearer' },
          ) as never;
        const namespace = c.req.valid('header')['x-namespace'];
        if (namespace && namespace !== config.temporal.namespace)
          return problemResponse({
            type: problemType('validation'),
            title: 'Unknown namespace',
            status: 400,
            detail: `This codec serves the namespace ${config.temporal.namespace}.`,
          }) as never;
        const payloads = fromJson(c.req.valid('json'));
        const done = direction === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
        return c.json(toJson(done), 200);
      },
    );
  }

  const sessionPage = (c: Context<ApiEnv>, status: 200 | 403, message?: string) =>
    page(
      c,
      status,
      'Temporal UI: decoded payloads',
      html`${message ? html`<p><strong>${message}</strong></p>` : ''}
        <p>Sign in with an admin or coordinator API key. The Temporal UI then shows decoded payloads once its
          Codec Server settings (the codec icon in its top bar) say “Use my browser setting”, with the endpoint
          <code>${config.api.publicUrl}/codec</code> and “Include cross-origin credentials”. The session lasts
          ${SESSION_HOURS} hours, or until the key is revoked.</p>
        <form method="post" action="/codec/session">
          <label>API key <input name="key" type="password" autocomplete="off" required /></label>
          <button type="submit">Sign in</button>
        </form>`,
    );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/codec/session',
      tags: ['Temporal codec'],
      summary: 'Sign-in page for decoded payloads in the Temporal UI',
      responses: { 200: { description: 'The form', content: HtmlPage } },
    }),
    (c) => sessionPage(c, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/codec/session',
      tags: ['Temporal codec'],
      summary: 'Starts a browser session for the codec endpoint',
      request: {
        body: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': { schema: z.object({ key: z.string().max(200) }) },
          },
        },
      },
      responses: {
        200: { description: 'Signed in (an HttpOnly session cookie)', content: HtmlPage },
        403: { description: 'Not an admin or coordinator key', content: HtmlPage },
      },
    }),
    async (c) => {
      const principal = await verifyApiKey(db, c.req.valid('form').key);
      if (!principal || !mayDecode(principal.roles))
        return sessionPage(c, 403, 'That is not a valid admin or coordinator key.');
      const until = Date.now() + SESSION_HOURS * 3_600_000;
      setCookie(c, SESSION_COOKIE, session.seal(principal.keyId, until), {
        httpOnly: true,
        sameSite: 'Strict',
        secure,
        path: '/codec',
        maxAge: SESSION_HOURS * 3_600,
      });
      return sessionPage(c, 200, `Signed in as ${principal.keyName} (${principal.tenantSlug}).`);
    },
  );
}
