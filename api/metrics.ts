import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  middleware: ReturnType<typeof createMiddleware>;
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'flowdesk_api_' });
  const duration = new Histogram({
    name: 'flowdesk_api_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const middleware = createMiddleware(async (c, next) => {
    const end = duration.startTimer({ method: c.req.method });
    await next();
    // The route pattern, not the raw path, keeps label cardinality bounded.
    end({ route: routePath(c, -1) || 'unmatched', status: String(c.res.status) });
  });
  return { registry, middleware };
}
