/**
 * What every route answers besides its own responses, added to the generated OpenAPI document in one place so
 * the document says all the API does: the request id on every answer, 401 where a key is needed, 413 and 415
 * where a body is taken, 429 where a limit applies, 500; the schemes webhooks are signed with; an operationId
 * and a declared tag for every operation.
 */

/** Paths whose callers are counted by client address (api/app.ts applies the limit to the same ones). */
export const PUBLIC_LIMITED_PATHS = [
  '/sign/*',
  '/pay/*',
  '/paid/*',
  '/configure/*',
  '/codec/session',
] as const;

const TAGS: Record<string, string> = {
  Access: 'Who a key stands for, and the tenant’s keys',
  Flows: 'Every process: list, status, audit trail, and staff decisions',
  Customers: 'Starting a proposal’s process',
  Payments: 'Invoices and payments, for finance',
  Suppliers: 'Supplier settings (admin)',
  'Supplier orders': 'Orders to suppliers, from creation to receipt',
  'Leads and projects': 'Leads from architects and staff, and the projects they become',
  'Project setup': 'Project settings, catalogue, crews and architects (admin)',
  Installations: 'Installation jobs, for the crews',
  Automation: 'Automation steps in the legacy system, their scenarios, and ops’ way out when they fail',
  Companies: 'The companies hardware is sold to: contacts and address book',
  Orders: 'Hardware orders: prices with provenance, Stripe Checkout, orders on terms',
  Shipments: 'Shipments of orders: allocation, couriers, tracking, and each shipment’s timeline',
  'Customer pages': 'The pages customers reach from their emails',
  Webhooks: 'Signed deliveries from Stripe, DocuSign, suppliers and couriers',
  'Temporal codec': 'Decoded payloads for the Temporal UI and CLI, for staff',
  Operations: 'Health and readiness',
};

/** How each webhook proves where it comes from. */
const WEBHOOK_SCHEMES: Record<string, { header: string; description: string }> = {
  '/webhooks/stripe': {
    header: 'Stripe-Signature',
    description: 'Stripe’s signature over the raw body with the endpoint secret (5 minutes tolerance)',
  },
  '/webhooks/esign/{provider}': {
    header: 'X-DocuSign-Signature-1',
    description: 'DocuSign Connect’s HMAC-SHA256 of the raw body with the Connect key',
  },
  '/webhooks/suppliers/{supplierId}': {
    header: 'Supplier-Signature',
    description: '`t=<unix seconds>,v1=<hex HMAC-SHA256(webhook secret, "t.<raw body>")>`',
  },
  '/webhooks/couriers/aftership': {
    header: 'aftership-hmac-sha256',
    description: 'AfterShip’s base64 HMAC-SHA256 of the raw body with the webhook secret',
  },
};
const schemeName = (path: string) =>
  `${(WEBHOOK_SCHEMES[path]?.header ?? '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase()).replace(/^\w/, (c) => c.toLowerCase())}`;

const problem = (description: string, headers?: Record<string, unknown>) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  ...(headers && { headers }),
});

const matches = (pattern: string, path: string) =>
  pattern.endsWith('/*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;

type Operation = {
  operationId?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, unknown> };
  parameters?: unknown[];
  responses?: Record<string, { headers?: Record<string, unknown> } & Record<string, unknown>>;
};
type Document = {
  tags?: { name: string; description?: string }[];
  paths?: Record<string, Record<string, Operation>>;
  components?: Record<string, Record<string, unknown>>;
};

/** `POST /v1/flows/{flowId}/pause` → `postV1FlowsFlowIdPause`. */
function operationIdOf(method: string, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .map((part) => part.replace(/[{}]/g, ''))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/));
  return [method, ...words]
    .map((word, i) => (i === 0 ? word : word.charAt(0).toUpperCase() + word.slice(1)))
    .join('');
}

export function completeDocument<T>(generated: T): T {
  const doc = structuredClone(generated) as Document;
  doc.components ??= {};
  doc.components.schemas ??= {};
  doc.components.schemas.Problem ??= {
    type: 'object',
    description: 'RFC 9457 problem details',
    required: ['type', 'title', 'status'],
    properties: {
      type: { type: 'string' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      instance: { type: 'string' },
      errors: {
        type: 'array',
        items: {
          type: 'object',
          required: ['field', 'message'],
          properties: { field: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
  };
  doc.components.headers = {
    ...doc.components.headers,
    'X-Request-Id': {
      description: 'The server’s id of this request (quote it when reporting a problem)',
      schema: { type: 'string' },
    },
    RateLimit: {
      description: 'Where the caller stands: `"<policy>";r=<remaining>;t=<seconds to reset>`',
      schema: { type: 'string' },
    },
    'RateLimit-Policy': {
      description: 'The limit: `"<policy>";q=<requests>;w=<window seconds>`',
      schema: { type: 'string' },
    },
    'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } },
    'WWW-Authenticate': { description: '`Bearer`', schema: { type: 'string' } },
  };
  doc.components.securitySchemes ??= {};
  for (const [path, scheme] of Object.entries(WEBHOOK_SCHEMES))
    doc.components.securitySchemes[schemeName(path)] = {
      type: 'apiKey',
      in: 'header',
      name: scheme.header,
      description: scheme.description,
    };
  const ref = (name: string) => ({ $ref: `#/components/headers/${name}` });
  const limitHeaders = { RateLimit: ref('RateLimit'), 'RateLimit-Policy': ref('RateLimit-Policy') };
  const used = new Set<string>();
  for (const [path, operations] of Object.entries(doc.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      operation.operationId ??= operationIdOf(method, path);
      for (const tag of operation.tags ?? []) used.add(tag);
      operation.responses ??= {};
      const responses = operation.responses;
      const keyed = path.startsWith('/v1/');
      const limited =
        keyed || PUBLIC_LIMITED_PATHS.some((pattern) => matches(pattern, path.replace(/\{[^}]+\}/g, 'x')));
      if (WEBHOOK_SCHEMES[path]) operation.security = [{ [schemeName(path)]: [] }];
      else if (!operation.security) operation.security = [];
      if (keyed || path.startsWith('/codec/'))
        responses['401'] ??= problem('No valid key', { 'WWW-Authenticate': ref('WWW-Authenticate') });
      if (operation.requestBody || operation.parameters?.length)
        responses['400'] ??= problem('Invalid request: each bad field named');
      if (operation.requestBody) {
        responses['413'] ??= problem('The body is over 1 MiB (the connection is then closed)');
        responses['415'] ??= problem('Not the body’s documented media type');
      }
      if (limited)
        responses['429'] ??= problem('Too many requests', {
          ...limitHeaders,
          'Retry-After': ref('Retry-After'),
        });
      responses['500'] ??= problem('Something went wrong on the server (quote the request id)');
      for (const [status, response] of Object.entries(responses)) {
        response.headers = {
          'X-Request-Id': ref('X-Request-Id'),
          ...(limited && status !== '429' && limitHeaders),
          ...response.headers,
        };
      }
    }
  }
  doc.tags = [...used].sort().map((name) => ({ name, description: TAGS[name] ?? name }));
  return doc as T;
}
