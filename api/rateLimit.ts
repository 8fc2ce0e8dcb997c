import type { Context, MiddlewareHandler } from 'hono';
import { problemResponse, problemType } from './problem.js';

/**
 * A fixed-window rate limit per key (an API key, a client address), in this API process: each replica counts
 * its own requests. Every answer says where the caller stands, in the IETF RateLimit fields
 * (`RateLimit-Policy: "name";q=limit;w=window`, `RateLimit: "name";r=remaining;t=seconds`); over the limit it is
 * 429 with `Retry-After`: problem+json, or a page for people (`pageFor`).
 */
export function rateLimit(options: {
  name: string;
  limit: number;
  windowSeconds: number;
  keyOf: (c: Context) => string;
  /** Answers over the limit for people rather than programs (a page); problem+json when it gives none. */
  pageFor?: (c: Context, detail: string) => Response | Promise<Response> | undefined;
}): MiddlewareHandler {
  const { name, limit, windowSeconds } = options;
  const windows = new Map<string, { count: number; endsAt: number }>();
  const policy = `"${name}";q=${limit};w=${windowSeconds}`;
  return async (c, next) => {
    const now = Date.now();
    // Ended windows are dropped as the map grows, so it holds only the callers of the current window.
    if (windows.size > 10_000)
      for (const [key, window] of windows) if (window.endsAt <= now) windows.delete(key);
    const key = options.keyOf(c);
    let window = windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { count: 0, endsAt: now + windowSeconds * 1000 };
      windows.set(key, window);
    }
    window.count++;
    const resetIn = Math.max(1, Math.ceil((window.endsAt - now) / 1000));
    const fields = {
      'ratelimit-policy': policy,
      ratelimit: `"${name}";r=${Math.max(0, limit - window.count)};t=${resetIn}`,
    };
    if (window.count > limit) {
      const detail = `At most ${limit} requests per ${windowSeconds} s (${name}); try again in ${resetIn} s.`;
      const headers = { ...fields, 'retry-after': String(resetIn) };
      const page = await options.pageFor?.(c, detail);
      if (page) {
        for (const [field, value] of Object.entries(headers)) page.headers.set(field, value);
        return page;
      }
      return problemResponse(
        {
          type: problemType('rate-limited'),
          title: 'Too many requests',
          status: 429,
          detail,
          instance: c.req.path,
        },
        headers,
      );
    }
    await next();
    for (const [field, value] of Object.entries(fields)) c.res.headers.set(field, value);
  };
}
