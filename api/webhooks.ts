import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { ApiEnv } from './context.js';
import { problemResponse, problemType } from './problem.js';

/** Why a webhook's signature is refused, or undefined when it is genuine. */
export type SignatureCheck = (
  raw: string,
  c: Context<ApiEnv>,
) => string | undefined | Promise<string | undefined>;

/**
 * Checks a webhook's signature over the raw body before anything else reads it: a forged or stale delivery is
 * answered 400 (or 401, as the provider expects) before its content is even validated, so it can neither record
 * nor signal anything. The raw text stays cached on the request, and the body validator and the handler read
 * that same text.
 */
export function verifiedWebhook(check: SignatureCheck, refusedWith: 400 | 401 = 400) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const refusal = await check(await c.req.text(), c);
    if (refusal) {
      return problemResponse({
        type: problemType('invalid-signature'),
        title: 'Invalid webhook signature',
        status: refusedWith,
        detail: refusal,
        instance: c.req.path,
      });
    }
    await next();
  });
}

export const WebhookReceipt = z
  .object({
    received: z.literal(true),
    duplicate: z.boolean().describe('This delivery was seen before; nothing changed'),
  })
  .openapi('WebhookReceipt');
