import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { requireApiKey } from './auth.js';
import { addressList, clientAddress } from './clientAddress.js';
import { CONSOLE_LIMITED_PATHS, registerConsoleRoutes, tooManyTries } from './console/routes.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { type ApiMetrics, metricsEndpoint } from './metrics.js';
import { PUBLIC_LIMITED_PATHS } from './openapiDocument.js';
import { fieldErrors, problemContent, problemResponse, problemType, validationProblem } from './problem.js';
import { rateLimit } from './rateLimit.js';
import { registerAnalyticsRoutes } from './routes/analytics.js';
import { registerAnalyticsSettingsRoutes } from './routes/analyticsSettings.js';
import { registerAnalyticsSourceRoutes } from './routes/analyticsSources.js';
import { registerApiKeyRoutes } from './routes/apiKeys.js';
import { registerAutomationRoutes } from './routes/automation.js';
import { registerCodecRoutes } from './routes/codec.js';
import { registerCompanyRoutes } from './routes/companies.js';
import { registerConfiguratorRoutes } from './routes/configurator.js';
import { registerCourierRoutes } from './routes/couriers.js';
import { registerCourierWebhook } from './routes/courierWebhook.js';
import { registerCrmWebhook } from './routes/crmWebhook.js';
import { registerDocsRoutes } from './routes/docs.js';
import { registerFlowRoutes } from './routes/flows.js';
import { type Check, registerHealthRoutes } from './routes/health.js';
import { registerInstallationRoutes } from './routes/installations.js';
import { registerLeadRoutes } from './routes/leads.js';
import { registerMeRoute } from './routes/me.js';
import { registerOrderStream } from './routes/orderStream.js';
import { registerOrderRoutes } from './routes/orders.js';
import { registerPaymentPages } from './routes/paymentPages.js';
import { registerPaymentRoutes } from './routes/payments.js';
import { registerProjectSetupRoutes } from './routes/projectSetup.js';
import { registerProposalRoutes } from './routes/proposals.js';
import { registerShipmentRoutes } from './routes/shipments.js';
import { registerSigningRoutes } from './routes/signing.js';
import { registerStaffRoutes } from './routes/staff.js';
import { registerStripeWebhook } from './routes/stripeWebhook.js';
import { registerSupplierOrderRoutes } from './routes/supplierOrders.js';
import { registerSupplierRoutes } from './routes/suppliers.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/** A path as the log keeps it: an invitation's one-time token would let whoever reads the log take the account. */
const loggedPath = (path: string) => path.replace(/^\/console\/invite\/[^/]+/, '/console/invite/…');

export interface AppOptions {
  metrics: ApiMetrics;
  version: string;
  /** What `/readyz` checks. */
  checks: Record<string, Check>;
  /** Sees every answer as it leaves (the tests check each one against the OpenAPI document). */
  onAnswer?: (request: { method: string; path: string }, response: Response) => void;
}

export function createApp(deps: ApiDeps, options: AppOptions): OpenAPIHono<ApiEnv> {
  const { logger } = deps;
  const proxies = addressList(deps.config.api.trustedProxies);
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        return problemResponse(validationProblem(fieldErrors(result.error, result.target), c.req.path));
      }
    },
  });

  app.use('*', async (c, next) => {
    // The server names each request: audit events are keyed by it, so a client repeating an id cannot make
    // one of them vanish. A client's own id is kept in the log beside it, to find its requests there.
    const requestId = randomUUID();
    c.set('requestId', requestId);
    c.set('clientAddress', clientAddress(c, proxies));
    const clientRequestId = /^[\w.:-]{1,100}$/.exec(c.req.header('x-request-id') ?? '')?.[0];
    const started = performance.now();
    await next();
    c.header('x-request-id', requestId);
    options.onAnswer?.({ method: c.req.method, path: c.req.path }, c.res.clone());
    logger.info(
      {
        requestId,
        clientRequestId,
        method: c.req.method,
        path: loggedPath(c.req.path),
        status: c.res.status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        tenantId: c.get('principal')?.tenantId,
      },
      'request',
    );
  });
  app.use('*', options.metrics.middleware);
  // Nothing Flowdesk accepts comes near this; a larger body is refused before it is read into memory.
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      // The rest of the body is never read, so the connection cannot carry another request: say so, or a
      // client's next request on it meets a reset.
      onError: (c) =>
        problemResponse(
          {
            type: problemType('too-large'),
            title: 'Request body too large',
            status: 413,
            detail: `The body may be at most ${MAX_BODY_BYTES / 1024} KiB.`,
            instance: c.req.path,
          },
          { connection: 'close' },
        ),
    }),
  );

  registerHealthRoutes(app, options.checks);
  registerDocsRoutes(app, options.version);
  // With a port of its own (API_METRICS_PORT) /metrics is not on this one.
  if (deps.config.api.metrics.port === undefined)
    app.openapi(
      createRoute({
        method: 'get',
        path: '/metrics',
        tags: ['Operations'],
        summary: 'Prometheus metrics (with METRICS_TOKEN, only to that Bearer token)',
        responses: {
          200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
          401: { description: 'METRICS_TOKEN is set and was not presented', content: problemContent },
        },
      }),
      metricsEndpoint(options.metrics, deps.config.api.metrics.token) as never,
    );

  const { perKey, perAddress } = deps.config.api.rateLimits;
  if (perAddress > 0) {
    const perClient = rateLimit({
      name: 'per-address',
      limit: perAddress,
      windowSeconds: 60,
      keyOf: (c) => c.get('clientAddress'),
      pageFor: (c, detail) => (c.req.path.startsWith('/console/') ? tooManyTries(c, detail) : undefined),
    });
    for (const path of [...PUBLIC_LIMITED_PATHS, ...CONSOLE_LIMITED_PATHS]) app.use(path, perClient);
  }
  registerSigningRoutes(app, deps);
  registerConfiguratorRoutes(app, deps);
  registerPaymentPages(app, deps);
  registerStripeWebhook(app, deps);
  registerCourierWebhook(app, deps);
  registerCrmWebhook(app, deps);
  registerCodecRoutes(app, deps);
  registerConsoleRoutes(app, deps);

  app.use('/v1/*', requireApiKey(deps.db));
  if (perKey > 0)
    app.use(
      '/v1/*',
      rateLimit({
        name: 'per-key',
        limit: perKey,
        windowSeconds: 60,
        keyOf: (c) => c.get('principal').keyId,
      }),
    );
  registerMeRoute(app);
  registerApiKeyRoutes(app, deps);
  registerStaffRoutes(app, deps);
  registerProposalRoutes(app, deps);
  registerFlowRoutes(app, deps);
  registerPaymentRoutes(app, deps);
  registerSupplierRoutes(app, deps);
  registerSupplierOrderRoutes(app, deps);
  registerProjectSetupRoutes(app, deps);
  registerLeadRoutes(app, deps);
  registerInstallationRoutes(app, deps);
  registerAutomationRoutes(app, deps);
  registerCompanyRoutes(app, deps);
  registerCourierRoutes(app, deps);
  registerOrderRoutes(app, deps);
  registerShipmentRoutes(app, deps);
  registerAnalyticsSourceRoutes(app, deps);
  registerAnalyticsRoutes(app, deps);
  registerAnalyticsSettingsRoutes(app, deps);
  registerOrderStream(app, deps);

  // A known path asked with another method is 405 with the methods it takes, not 404.
  const routes = app.routes
    .filter((route) => route.method !== 'ALL' && !route.path.includes('*'))
    .map((route) => ({
      method: route.method,
      pattern: new RegExp(`^${route.path.replace(/:[^/]+/g, '[^/]+')}$`),
    }));
  app.notFound((c) => {
    const allowed = [
      ...new Set(routes.filter((route) => route.pattern.test(c.req.path)).map((route) => route.method)),
    ];
    if (allowed.length > 0)
      return problemResponse(
        {
          type: problemType('method-not-allowed'),
          title: 'Method not allowed',
          status: 405,
          detail: `${c.req.path} takes ${allowed.join(', ')}, not ${c.req.method}.`,
        },
        { allow: allowed.join(', ') },
      );
    return problemResponse({
      type: problemType('not-found'),
      title: 'Not found',
      status: 404,
      detail: `No route ${c.req.method} ${c.req.path}.`,
    });
  });
  app.onError((error, c) => {
    if (error instanceof HTTPException) {
      return problemResponse({
        type: problemType(error.status === 400 ? 'bad-request' : 'http-error'),
        title: error.status === 400 ? 'Bad request' : 'Request failed',
        status: error.status,
        detail: error.message,
        instance: c.req.path,
      });
    }
    logger.error(
      { err: error, requestId: c.get('requestId'), path: loggedPath(c.req.path) },
      'unhandled error',
    );
    return problemResponse({
      type: problemType('internal'),
      title: 'Internal error',
      status: 500,
      detail: `Something went wrong on our side. Quote request id ${c.get('requestId')} when reporting it.`,
    });
  });
  return app;
}
