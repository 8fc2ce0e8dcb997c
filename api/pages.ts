import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { html } from 'hono/html';

export const HtmlPage = { 'text/html': { schema: z.string() } };

/** A small page for customers (signing, paying): they see HTML, not problem documents. */
export function page(
  c: Context,
  status: 200 | 403 | 404 | 409 | 410 | 503,
  title: string,
  body: ReturnType<typeof html>,
) {
  return c.html(
    html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>${title}</title>
          <style>
            body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
            iframe { width: 100%; height: 32rem; border: 1px solid #ccc; }
            form { margin-top: 1rem; } label { display: block; margin: .5rem 0; }
          </style>
        </head>
        <body>
          <h1>${title}</h1>
          ${body}
        </body>
      </html>`,
    status,
  );
}
