import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

type Responses = Record<string, { content?: Record<string, { schema?: unknown }> }>;
type Document = { paths: Record<string, Record<string, { responses?: Responses }>> };

/**
 * Checks every answer the API gives in the tests against its own OpenAPI document: the status is documented for
 * the operation, the content type is one it documents, and a JSON body fits the documented schema. What does
 * not fit is collected, and the test API refuses to stop quietly (test/helpers/api.ts).
 */
export function conformanceChecker(documentOf: () => Promise<unknown>) {
  const violations: string[] = [];
  let ready:
    | Promise<{ document: Document; ajv: Ajv2020; routes: { pattern: RegExp; path: string }[] }>
    | undefined;
  const load = () => {
    ready ??= documentOf().then((loaded) => {
      const document = loaded as Document;
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      addFormats.default(ajv);
      ajv.addSchema(document, 'openapi.json');
      const routes = Object.keys(document.paths).map((path) => ({
        path,
        pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
      }));
      return { document, ajv, routes };
    });
    return ready;
  };
  const pending: Promise<void>[] = [];
  const pointer = (...parts: string[]) =>
    parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

  async function check(request: { method: string; path: string }, response: Response): Promise<void> {
    // The document itself, its reference page, the console's pages (for people, not programs), and CORS
    // preflights (the codec endpoint's) are not operations.
    if (
      request.path === '/openapi.json' ||
      request.path.startsWith('/docs') ||
      request.path.startsWith('/console') ||
      request.method === 'OPTIONS'
    )
      return;
    const { document, ajv, routes } = await load();
    const route = routes.find((candidate) => candidate.pattern.test(request.path));
    const method = request.method.toLowerCase();
    const operation = route && document.paths[route.path]?.[method];
    const what = `${request.method} ${request.path} → ${response.status}`;
    if (!route || !operation) {
      // Unknown routes and methods answer 404 and 405 problem documents, which no operation lists.
      if (![404, 405].includes(response.status))
        violations.push(`${what}: no such operation in the document`);
      return;
    }
    const status = String(response.status);
    const documented = operation.responses?.[status] ?? operation.responses?.default;
    if (!documented) {
      violations.push(`${what}: status not documented`);
      return;
    }
    const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    if (!documented.content) {
      if (type && (await response.text()).length > 0)
        violations.push(`${what}: a ${type} body, none documented`);
      return;
    }
    const media = documented.content[type];
    if (!media) {
      violations.push(
        `${what}: ${type || 'no content type'}, documented ${Object.keys(documented.content).join(', ')}`,
      );
      return;
    }
    if (!type.endsWith('json') || !media.schema) return;
    const body = await response.json();
    const schemaRef = `openapi.json#/${pointer('paths', route.path, method, 'responses', operation.responses?.[status] ? status : 'default', 'content', type, 'schema')}`;
    if (!ajv.validate({ $ref: schemaRef }, body))
      violations.push(`${what}: body does not fit: ${ajv.errorsText(ajv.errors)}`);
  }

  return {
    onAnswer(request: { method: string; path: string }, response: Response) {
      pending.push(
        check(request, response).catch(
          (error: unknown) => void violations.push(`${request.method} ${request.path}: ${String(error)}`),
        ),
      );
    },
    async violations(): Promise<string[]> {
      await Promise.all(pending);
      return [...new Set(violations)];
    },
  };
}
