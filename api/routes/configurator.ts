import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { html, raw } from 'hono/html';
import { type CatalogueRow, listCatalogue } from '../../db/catalogue.js';
import { currentSelection, lockSelection, requestChange, saveDraft } from '../../db/panelSelections.js';
import { requestFreshLink } from '../../db/projects.js';
import type { PricedLine } from '../../domain/catalogue.schema.js';
import { projectNews } from '../../domain/leadToInstall.js';
import { ChangeRequest, SelectionLine, SelectionLines } from '../../domain/leadToInstall.schema.js';
import { formatMoney } from '../../domain/money.js';
import { checkLinkToken } from '../../integrations/links/expiringLinks.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { HtmlPage, page } from '../pages.js';
import { problemContent, problemJson, problemType, validationProblem } from '../problem.js';
import { json, signalIfRunning } from './shared.js';

const ProjectParam = z.object({ projectId: z.uuid() });
const LinkQuery = z.object({ expires: z.string().max(20), token: z.string().max(100) });
const Draft = z.object({ lines: SelectionLines }).openapi('SelectionDraft');
const Selection = z
  .object({
    version: z.number().int(),
    state: z.string(),
    lines: z.array(
      SelectionLine.extend({ name: z.string().optional(), unitPrice: z.number().int().optional() }),
    ),
    total: z.number().int().nullable(),
    savedAt: z.iso.datetime().nullable(),
  })
  .openapi('PanelSelection');
const linkRefusals = {
  403: { description: 'Not a valid link', content: problemContent },
  410: { description: 'The link expired: a fresh one was sent to the customer', content: problemContent },
};

type ProjectRow = { id: string; tenant_id: string; title: string; currency: string; flow_id: string };

/**
 * The customer's configurator: a tokenised, short-lived link (`/configure/{projectId}`) to choose panels,
 * inverters and accessories from the tenant's catalogue. Drafts are saved as the customer types; the lock is
 * final, and a change after it is a request a coordinator decides. An expired link sends a fresh one to the
 * customer's email, never to whoever holds the link.
 */
export function registerConfiguratorRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db, config } = deps;

  /** The project behind a link; or why not: forged (403), unknown (404), expired (410, a fresh link is sent). */
  async function openProject(
    projectId: string,
    query: z.infer<typeof LinkQuery>,
  ): Promise<{ project: ProjectRow } | { refused: 403 | 404 | 410 }> {
    const secret = config.signingSecret;
    const check = secret
      ? checkLinkToken(secret, 'configure', projectId, query.expires, query.token)
      : 'invalid';
    if (check === 'invalid') return { refused: 403 };
    const project = await db
      .selectFrom('projects')
      .select(['id', 'tenant_id', 'title', 'currency', 'flow_id'])
      .where('id', '=', projectId)
      .executeTakeFirst();
    if (!project) return { refused: 404 };
    if (check === 'expired') {
      const { flowId } = await requestFreshLink(db, {
        tenantId: project.tenant_id,
        projectId,
        expiredAt: Number(query.expires),
        actor: { type: 'customer', id: projectId },
      });
      await signalIfRunning(deps, flowId, projectNews, { kind: 'linkRequested' });
      return { refused: 410 };
    }
    return { project };
  }

  const refusedJson = (c: Context, status: 403 | 404 | 410) =>
    c.json(
      {
        type: problemType(status === 410 ? 'link-expired' : status === 404 ? 'not-found' : 'forbidden'),
        title: status === 410 ? 'This link has expired' : 'This link is not valid',
        status,
        detail:
          status === 410
            ? 'We have sent a fresh link to the email address we have for you.'
            : 'Please use the link from your email.',
      },
      status,
      { 'content-type': 'application/problem+json' },
    );

  const selectionView = async (projectId: string) => {
    const selection = await currentSelection(db, projectId);
    return {
      version: selection.version,
      state: selection.state,
      lines: selection.lines as (SelectionLine & Partial<PricedLine>)[],
      total: selection.total === null ? null : Number(selection.total),
      savedAt: selection.saved_at?.toISOString() ?? null,
    };
  };

  /** Lines the catalogue refused, named as the body has them. */
  const linesProblem = (c: Context, problems: { index: number; field: string; message: string }[]) =>
    problemJson(
      c,
      400,
      validationProblem(
        problems.map((problem) => ({
          field: `body.lines.${problem.index}.${problem.field}`,
          message: problem.message,
        })),
      ),
    );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/configure/{projectId}',
      tags: ['Customers'],
      summary: 'The configurator page a customer opens from their email (tokenised, short-lived link)',
      request: { params: ProjectParam, query: LinkQuery },
      responses: {
        200: { description: 'The catalogue and the selection', content: HtmlPage },
        403: { description: 'Forged link', content: HtmlPage },
        404: { description: 'Unknown project', content: HtmlPage },
        410: { description: 'Expired link: a fresh one went to the customer’s email', content: HtmlPage },
      },
    }),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const query = c.req.valid('query');
      const opened = await openProject(projectId, query);
      if ('refused' in opened) {
        if (opened.refused === 410)
          return page(
            c,
            410,
            'This link has expired',
            html`<p>We have sent a fresh link to the email address we have for you. Please use that one.</p>`,
          );
        return page(
          c,
          opened.refused,
          'This link is not valid',
          html`<p>Please use the link from your email.</p>`,
        );
      }
      const { project } = opened;
      const items = await listCatalogue(db, project.tenant_id, {
        activeOnly: true,
        currency: project.currency,
      });
      const selection = await selectionView(projectId);
      return page(
        c,
        200,
        `Your selection: ${project.title}`,
        configuratorPage(items, selection, project.currency, query),
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/configure/{projectId}/draft',
      tags: ['Customers'],
      summary: 'Saves the customer’s selection so far (the page saves as they type)',
      request: { params: ProjectParam, query: LinkQuery, body: { required: true, content: json(Draft) } },
      responses: {
        200: { description: 'Saved', content: json(Selection) },
        400: { description: 'A line the catalogue does not allow, named', content: problemContent },
        404: { description: 'Unknown project', content: problemContent },
        409: { description: 'The selection is locked: ask for a change instead', content: problemContent },
        ...linkRefusals,
      },
    }),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const opened = await openProject(projectId, c.req.valid('query'));
      if ('refused' in opened) return refusedJson(c, opened.refused);
      const saved = await saveDraft(db, {
        tenantId: opened.project.tenant_id,
        projectId,
        lines: c.req.valid('json').lines,
        actor: { type: 'customer', id: projectId },
      });
      if (saved.result === 'invalid') return linesProblem(c, saved.problems);
      if (saved.result === 'locked')
        return problemJson(c, 409, {
          type: problemType('selection-locked'),
          title: 'The selection is locked',
          detail: 'A locked selection is not edited: request a change instead.',
        });
      return c.json(await selectionView(projectId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/configure/{projectId}/lock',
      tags: ['Customers'],
      summary:
        'Locks the selection with today’s prices; after this, changes are requests a coordinator decides',
      request: { params: ProjectParam, query: LinkQuery },
      responses: {
        200: { description: 'Locked (or was already)', content: json(Selection) },
        400: { description: 'A line the catalogue no longer allows, named', content: problemContent },
        404: { description: 'Unknown project', content: problemContent },
        409: { description: 'Nothing is selected yet', content: problemContent },
        ...linkRefusals,
      },
    }),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const opened = await openProject(projectId, c.req.valid('query'));
      if ('refused' in opened) return refusedJson(c, opened.refused);
      const locked = await lockSelection(db, {
        tenantId: opened.project.tenant_id,
        projectId,
        actor: { type: 'customer', id: projectId },
      });
      if (locked.result === 'invalid') return linesProblem(c, locked.problems);
      if (locked.result === 'empty')
        return problemJson(c, 409, {
          type: problemType('selection-empty'),
          title: 'Nothing is selected',
          detail: 'Choose at least one item before locking the selection.',
        });
      await signalIfRunning(deps, opened.project.flow_id, projectNews, { kind: 'selectionLocked' });
      return c.json(await selectionView(projectId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/configure/{projectId}/change-requests',
      tags: ['Customers'],
      summary:
        'Asks for a change to a locked selection; a coordinator approves (a new version) or rejects it',
      request: {
        params: ProjectParam,
        query: LinkQuery,
        body: { required: true, content: json(ChangeRequest) },
      },
      responses: {
        201: { description: 'Requested', content: json(z.object({ requestId: z.uuid() })) },
        400: { description: 'A line the catalogue does not allow, named', content: problemContent },
        404: { description: 'Unknown project', content: problemContent },
        409: {
          description: 'Not locked yet (edit the draft), or a request is open already',
          content: problemContent,
        },
        ...linkRefusals,
      },
    }),
    async (c) => {
      const { projectId } = c.req.valid('param');
      const opened = await openProject(projectId, c.req.valid('query'));
      if ('refused' in opened) return refusedJson(c, opened.refused);
      const body = c.req.valid('json');
      const requested = await requestChange(db, {
        tenantId: opened.project.tenant_id,
        projectId,
        lines: body.lines,
        reason: body.reason,
        actor: { type: 'customer', id: projectId },
      });
      if (requested.result === 'invalid') return linesProblem(c, requested.problems);
      if (requested.result !== 'requested')
        return problemJson(c, 409, {
          type: problemType('conflict'),
          title: 'No change can be requested now',
          detail:
            requested.result === 'open_request'
              ? 'A change you asked for is still open: we will answer it first.'
              : requested.state === 'DRAFT'
                ? 'The selection is not locked yet: edit it instead.'
                : 'The goods are delivered: the selection is installed as it is. Please call us.',
        });
      await signalIfRunning(deps, opened.project.flow_id, projectNews, {
        kind: 'changeRequested',
        id: requested.requestId,
      });
      return c.json({ requestId: requested.requestId }, 201);
    },
  );
}

/**
 * The page: the catalogue with quantities, saved as the customer types (debounced), the total, and the lock. A
 * locked selection is shown as it was locked, with a form to request a change.
 */
function configuratorPage(
  items: CatalogueRow[],
  selection: {
    state: string;
    lines: (SelectionLine & Partial<PricedLine>)[];
    total: number | null;
    savedAt: string | null;
  },
  currency: string,
  query: z.infer<typeof LinkQuery>,
) {
  const chosen = new Map(selection.lines.map((line) => [line.sku, line.quantity]));
  const locked = selection.state !== 'DRAFT';
  const linkQuery = `?expires=${encodeURIComponent(query.expires)}&token=${encodeURIComponent(query.token)}`;
  const rows = items.map(
    (item) => html`<tr data-sku="${item.sku}" data-price="${item.unit_price}">
      <td>${item.name}<br /><small>${item.kind}, ${item.sku}</small></td>
      <td>${formatMoney(Number(item.unit_price), currency)}</td>
      <td>${item.lead_time_days} days</td>
      <td><small>${item.min_per_site > 0 ? `at least ${item.min_per_site}` : ''}${item.max_per_site ? ` at most ${item.max_per_site}` : ''}${item.pack_of > 1 ? ` in packs of ${item.pack_of}` : ''}</small></td>
      <td><input type="number" min="0" step="${item.pack_of}" name="${item.sku}" aria-label="Quantity of ${item.name}"
        value="${chosen.get(item.sku) ?? 0}" ${locked ? 'disabled' : ''} /></td>
    </tr>`,
  );
  const total = selection.total ?? 0;
  return html`<p id="state">${locked ? `Locked: this is your selection (${selection.state.toLowerCase()}).` : 'Choose quantities; your choice is saved as you type.'}</p>
    <table>
      <thead><tr><th>Item</th><th>Price</th><th>Lead time</th><th>Rules</th><th>Quantity</th></tr></thead>
      <tbody>${rows}</tbody>
    </table>
    <p>Total: <strong id="total">${formatMoney(total, currency)}</strong> <span id="saved" role="status">${selection.savedAt ? `Saved ${selection.savedAt}` : ''}</span></p>
    <p id="problem" role="alert"></p>
    ${
      locked
        ? html`<form id="change"><h2>Need a change?</h2>
            <p>Press “Change quantities”, set the ones you want above, say why, and we will get back to you.</p>
            <button id="unlock-inputs" type="button">Change quantities</button>
            <label>Why <input name="reason" required maxlength="1000" /></label>
            <button type="submit">Request a change</button></form>`
        : html`<button id="lock" type="button">Lock my selection</button>`
    }
    <script>
      ${raw(configuratorScript(linkQuery, currency, locked))}
    </script>`;
}

/** Autosave (debounced), lock, and change requests; the server checks everything again. */
function configuratorScript(linkQuery: string, currency: string, locked: boolean): string {
  return `
const base = location.pathname;
const query = ${JSON.stringify(linkQuery)};
const money = new Intl.NumberFormat('en', { style: 'currency', currency: ${JSON.stringify(currency)} });
const inputs = [...document.querySelectorAll('tbody input')];
const lines = () => inputs.map((input) => ({ sku: input.name, quantity: Number(input.value) || 0 }));
const show = (id, text) => { document.getElementById(id).textContent = text; };
const problemOf = async (response) => {
  const body = await response.json().catch(() => ({}));
  return (body.errors || []).map((e) => e.message).join('; ') || body.detail || 'Something went wrong';
};
const total = () => inputs.reduce((sum, input) => sum + (Number(input.value) || 0) * Number(input.closest('tr').dataset.price), 0);
let timer;
async function save() {
  const response = await fetch(base + '/draft' + query, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lines: lines() }),
  });
  if (!response.ok) { show('problem', await problemOf(response)); show('saved', ''); return; }
  const saved = await response.json();
  show('problem', '');
  show('total', money.format(saved.total / 100));
  show('saved', 'Saved ' + new Date(saved.savedAt).toLocaleTimeString());
}
if (!${JSON.stringify(locked)}) {
  inputs.forEach((input) => input.addEventListener('input', () => {
    show('total', money.format(total() / 100));
    show('saved', 'Saving…');
    clearTimeout(timer);
    timer = setTimeout(save, 600);
  }));
  document.getElementById('lock').addEventListener('click', async () => {
    clearTimeout(timer);
    await save();
    const response = await fetch(base + '/lock' + query, { method: 'POST' });
    if (!response.ok) { show('problem', await problemOf(response)); return; }
    location.reload();
  });
} else {
  document.getElementById('unlock-inputs').addEventListener('click', () => inputs.forEach((input) => { input.disabled = false; }));
  document.getElementById('change').addEventListener('submit', async (event) => {
    event.preventDefault();
    const reason = new FormData(event.target).get('reason');
    const response = await fetch(base + '/change-requests' + query, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lines: lines(), reason }),
    });
    show('problem', response.ok ? '' : await problemOf(response));
    if (response.ok) show('state', 'Thank you: we have your change request and will answer it soon.');
  });
}`;
}
