import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from '../context.js';
import { completeDocument } from '../openapiDocument.js';

// The reference page is served from the swagger-ui-dist package, so /docs works with no internet access.
const swaggerUiDir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Flowdesk API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="api-reference"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#api-reference', persistAuthorization: true });
  </script>
</body>
</html>`;

export function registerDocsRoutes(app: OpenAPIHono<ApiEnv>, version: string): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (fdk_…), created with `npm run keys -- create`.',
  });
  // Built on first request, once every route is registered; the routes do not change after that.
  let document: unknown;
  app.get('/openapi.json', (c) => {
    document ??= completeDocument(
      app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: 'Flowdesk API',
          version,
          description:
            'Start, inspect and steer the durable business processes of Flowdesk. Errors are RFC 9457 problem details.',
        },
        servers: [{ url: '/', description: 'This Flowdesk API' }],
      }),
    );
    return c.json(document);
  });
  app.get('/docs', (c) => c.html(DOCS_PAGE));
  app.get('/docs/assets/:file', async (c) => {
    const file = c.req.param('file');
    const contentType = ASSETS[file];
    if (!contentType) return c.notFound();
    const body = await readFile(path.join(swaggerUiDir, file));
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'public, max-age=86400' });
  });
}
