import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { type Context, Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import { streamSSE } from 'hono/streaming';
import { dashboardSnapshot } from '../../db/dashboard.js';
import { flowCountsByState, listFlows } from '../../db/flowList.js';
import { assignItem, type NeedsMeFilter, type NeedsMeKind, needsMe } from '../../db/needsMe.js';
import { acceptInvitation, invitation, type StaffSession, signIn, signOut } from '../../db/staff.js';
import type { ApiDeps, ApiEnv } from '../context.js';
import { decideAboutFlow } from '../flowActions.js';
import { DECISION_NAMES, FLOW_TYPES } from '../flowTypes.js';
import { temporalUiUrl } from '../routes/flows.js';
import { readBulkAction, startBulkAction } from './bulkActions.js';
import { DashboardPage } from './dashboardPage.js';
import { decisionFromForm } from './decisionForms.js';
import { FlowPage, readFlowView } from './flowPage.js';
import { PAGES, pagesFor } from './layout.js';
import { registerOwnPages } from './ownPages.js';
import { BulkResultPage, ErrorPage, FlowsPage, InvitePage, NeedsMePage, SignInPage } from './pages.js';
import {
  type ConsoleEnv,
  clearSessionCookie,
  requireSession,
  setSessionCookie,
  signInCsrfHolds,
  signInCsrfToken,
  staffActor,
} from './session.js';
import { registerSettingsPages } from './settings.js';

const require = createRequire(import.meta.url);
const ASSETS: Record<string, string> = {
  'htmx.min.js': readFileSync(require.resolve('htmx.org/dist/htmx.min.js'), 'utf8'),
  // Live updates: the server says something changed, and htmx fetches the page's live parts again.
  'live.js': `const stream = new EventSource('/console/stream');
stream.addEventListener('changed', () => document.body.dispatchEvent(new Event('changed')));
`,
};
const KINDS: readonly NeedsMeKind[] = ['attention', 'retrying', 'unapplied_payment', 'late_supplier_order'];
/** The flow types the Flows page filters by: those the API runs. */
const FLOW_TYPE_NAMES = FLOW_TYPES.map((type) => type.definition.type).sort();
/** Who may pause, resume and cancel flows, as through the API. */
const ACTING_ROLES = ['admin', 'coordinator', 'finance'];

/** Where passwords are tried or set: counted per client address, as the customers' pages are. */
export const CONSOLE_LIMITED_PATHS = ['/console/sign-in', '/console/invite/*'] as const;

/** Only a path inside the console is a place to come back to after signing in. */
const safeNext = (next: unknown) =>
  typeof next === 'string' && /^\/console(\/[\w\-/?=&%.]*)?$/.test(next) ? next : '/console';

function refuse(c: Context, status: 403 | 404, what: string, staff?: StaffSession) {
  const title = status === 403 ? 'Not allowed' : 'Not found';
  const todo =
    status === 403
      ? 'Reload the page you came from and try again; if it keeps happening, sign out and in again.'
      : 'Check the address, or start again from the list.';
  return c.html(<ErrorPage title={title} what={what} todo={todo} staff={staff} />, status);
}

/** Past the per-address limit on sign-in and invitations: a page saying how long to wait. */
export function tooManyTries(c: Context, detail: string) {
  return c.html(
    <ErrorPage
      title="Too many tries"
      what={`This address has tried too often. ${detail}`}
      todo="Wait a minute, then try again. If the password is lost, ask an admin for a new invitation."
    />,
    429,
  );
}

/**
 * The ops console (server-rendered pages with htmx), under /console: people sign in with their own accounts, and
 * every change a page makes is a form carrying its session's CSRF token.
 */
export function registerConsoleRoutes(app: OpenAPIHono<ApiEnv>, deps: ApiDeps): void {
  const { db } = deps;
  const pages = new Hono<ConsoleEnv>();

  pages.get('/assets/:file', (c) => {
    const body = ASSETS[c.req.param('file')];
    if (!body) return refuse(c, 404, 'There is no such file.');
    return c.body(body, 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=3600',
    });
  });

  pages.get('/sign-in', (c) =>
    c.html(<SignInPage csrf={signInCsrfToken(c)} next={safeNext(c.req.query('next'))} />),
  );
  pages.post('/sign-in', async (c) => {
    if (!(await signInCsrfHolds(c))) return refuse(c, 403, 'The sign-in form was not sent from its page.');
    const form = await c.req.parseBody();
    const email = typeof form.email === 'string' ? form.email : '';
    const password = typeof form.password === 'string' ? form.password : '';
    const next = safeNext(form.next);
    const session = await signIn(db, email, password, c.get('requestId'));
    if (!session)
      return c.html(
        <SignInPage
          csrf={signInCsrfToken(c)}
          next={next}
          email={email}
          error="That email and password do not match an account. Check them and try again, or ask an admin for a new invitation."
        />,
        401,
      );
    setSessionCookie(c, session.token);
    return c.redirect(next, 303);
  });

  pages.get('/invite/:token', async (c) => {
    const invited = await invitation(db, c.req.param('token'));
    if (!invited)
      return refuse(
        c,
        404,
        'This invitation link is unknown, used already, or expired. Ask an admin for a new one.',
      );
    return c.html(<InvitePage name={invited.name} email={invited.email} csrf={signInCsrfToken(c)} />);
  });
  pages.post('/invite/:token', async (c) => {
    if (!(await signInCsrfHolds(c))) return refuse(c, 403, 'The form was not sent from its page.');
    const invited = await invitation(db, c.req.param('token'));
    if (!invited)
      return refuse(
        c,
        404,
        'This invitation link is unknown, used already, or expired. Ask an admin for a new one.',
      );
    const { password } = await c.req.parseBody();
    if (typeof password !== 'string' || [...password].length < 12)
      return c.html(
        <InvitePage
          name={invited.name}
          email={invited.email}
          csrf={signInCsrfToken(c)}
          error="The password needs at least 12 characters."
        />,
        400,
      );
    await acceptInvitation(db, c.req.param('token'), password);
    return c.redirect('/console/sign-in', 303);
  });

  pages.use(
    '*',
    requireSession(db, (c, status, why) => refuse(c, status, why)),
  );

  // Home is the first page the person's roles open.
  pages.get('/', (c) => {
    const staff = c.get('staff');
    const [home] = pagesFor(staff);
    if (!home) return refuse(c, 403, 'Your account has no pages yet: ask an admin for a role.', staff);
    return c.redirect(home.href, 303);
  });
  pages.post('/sign-out', async (c) => {
    await signOut(db, c.get('staff').sessionId);
    clearSessionCookie(c);
    return c.redirect('/console/sign-in', 303);
  });

  // Each page for the roles that open it (PAGES); the others are told which pages are theirs.
  for (const page of PAGES) {
    const opens = createMiddleware<ConsoleEnv>(async (c, next) => {
      const staff = c.get('staff');
      if (!pagesFor(staff).includes(page)) {
        const theirs = pagesFor(staff).map((mine) => mine.label);
        return refuse(
          c,
          403,
          `${page.label} is not among your pages; ${theirs.length ? `yours: ${theirs.join(', ')}` : 'your account has none yet: ask an admin for a role'}.`,
          staff,
        );
      }
      await next();
    });
    const under = page.href.replace('/console', '');
    pages.use(under, opens);
    pages.use(`${under}/*`, opens);
  }
  registerOwnPages(pages, deps);
  registerSettingsPages(pages, deps);
  pages.get('/dashboard', async (c) => {
    const staff = c.get('staff');
    const snapshot = await dashboardSnapshot(db, staff.tenantId, {
      onError: (error) =>
        deps.logger.warn({ err: error, tenantId: staff.tenantId }, 'dashboard figures failed'),
    });
    return c.html(<DashboardPage staff={staff} snapshot={snapshot} now={new Date()} />);
  });
  pages.get('/needs-me', async (c) => {
    const staff = c.get('staff');
    const query = c.req.query();
    const filter: NeedsMeFilter = {
      kind: KINDS.find((kind) => kind === query.kind),
      assignee:
        query.assignee === 'me' ? staff.userId : query.assignee === 'unassigned' ? 'unassigned' : undefined,
      sort: query.sort === 'newest' ? 'newest' : 'oldest',
    };
    const now = new Date();
    const items = await needsMe(db, staff.tenantId, { ...filter, now });
    const url = new URL(c.req.url);
    return c.html(
      <NeedsMePage staff={staff} items={items} filter={filter} now={now} url={url.pathname + url.search} />,
    );
  });
  pages.post('/needs-me/assign', async (c) => {
    const staff = c.get('staff');
    const { item, to } = await c.req.parseBody();
    if (typeof item !== 'string' || !/^[a-z_]+:.{1,300}$/.test(item))
      return refuse(c, 404, 'That item is not one of this list’s.', staff);
    await assignItem(db, staff.tenantId, item, to === 'me' ? staff.userId : null);
    return c.redirect('/console/needs-me', 303);
  });

  pages.get('/flows', async (c) => {
    const staff = c.get('staff');
    const query = c.req.query();
    const day = (value: string | undefined) =>
      value && /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(value)) ? value : undefined;
    const filter = {
      type: query.type || undefined,
      state: query.state || undefined,
      q: query.q?.slice(0, 200) || undefined,
      from: day(query.from),
      to: day(query.to),
    };
    const asked = {
      ...filter,
      from: filter.from ? new Date(filter.from) : undefined,
      to: filter.to ? new Date(filter.to) : undefined,
    };
    const [rows, counts] = await Promise.all([
      listFlows(db, staff.tenantId, asked, { limit: 50 }),
      flowCountsByState(db, staff.tenantId, asked),
    ]);
    return c.html(
      <FlowsPage
        staff={staff}
        rows={rows.map((row) => ({
          id: row.id,
          flowType: row.flow_type,
          businessKey: row.business_key,
          state: row.state,
          currentStep: row.current_step,
          startedAt: row.started_at,
          updatedAt: row.updated_at,
          temporalUiUrl: row.run_id ? temporalUiUrl(deps, row.id, row.run_id) : null,
        }))}
        counts={counts}
        filter={filter}
        types={FLOW_TYPE_NAMES}
        now={new Date()}
      />,
    );
  });
  // One flow: its steps, its children, what it works on, who did what and why, and the decisions it allows now.
  pages.get('/flows/:flowId', async (c) => {
    const staff = c.get('staff');
    const flowId = c.req.param('flowId');
    const flow = await readFlowView(deps, staff.tenantId, flowId);
    if (!flow) return refuse(c, 404, `There is no flow ${flowId} in your tenant.`, staff);
    const decided = DECISION_NAMES.find((name) => name === c.req.query('decided'));
    const notice = decided
      ? { ok: true, text: `Decision taken: ${decided}. The flow goes on from here; this page follows it.` }
      : undefined;
    return c.html(<FlowPage staff={staff} flow={flow} now={new Date()} notice={notice} />);
  });
  // A decision from one of the flow page's forms, checked and sent as POST /v1/flows/{flowId}/resolve sends it.
  pages.post('/flows/:flowId/decide', async (c) => {
    const staff = c.get('staff');
    const flowId = c.req.param('flowId');
    if (!staff.roles.some((role) => ACTING_ROLES.includes(role)))
      return refuse(c, 403, 'Deciding about a flow needs the coordinator or finance role.', staff);
    const flow = await readFlowView(deps, staff.tenantId, flowId);
    if (!flow) return refuse(c, 404, `There is no flow ${flowId} in your tenant.`, staff);
    const body = await c.req.parseBody();
    const again = (status: 400 | 409 | 503, page: Partial<Parameters<typeof FlowPage>[0]>) =>
      c.html(<FlowPage staff={staff} flow={flow} now={new Date()} {...page} />, status);
    const form = flow.decisions.find((candidate) => candidate.action === body.action && !candidate.route);
    if (!form)
      return again(409, {
        notice: {
          ok: false,
          text: 'That decision is not possible now: the flow has moved on. Here it is as it is.',
        },
      });
    const values = Object.fromEntries(
      Object.entries(body).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
    const decision = decisionFromForm(form, body);
    if ('field' in decision) return again(400, { failed: { action: form.action, values, ...decision } });
    const outcome = await decideAboutFlow(
      deps,
      { tenantId: staff.tenantId, actor: staffActor(staff) },
      flowId,
      decision,
    );
    if ('notFound' in outcome) return refuse(c, 404, `There is no flow ${flowId} in your tenant.`, staff);
    if ('invalid' in outcome)
      return again(400, { failed: { action: form.action, values, ...outcome.invalid } });
    if ('refused' in outcome)
      return again(409, { notice: { ok: false, text: `The flow did not take it: ${outcome.refused}` } });
    if ('unanswered' in outcome) return again(503, { notice: { ok: false, text: outcome.unanswered } });
    return c.redirect(`/console/flows/${encodeURIComponent(flowId)}?decided=${form.action}`, 303);
  });
  // The flows ticked, in the background (`bulkActions.ts`); the page shows the progress.
  pages.post('/flows/bulk', async (c) => {
    const staff = c.get('staff');
    if (!staff.roles.some((role) => ACTING_ROLES.includes(role)))
      return refuse(
        c,
        403,
        'Pausing, resuming and cancelling flows needs the coordinator or finance role.',
        staff,
      );
    const form = await c.req.parseBody({ all: true });
    const action = form.action;
    const reason = typeof form.reason === 'string' ? form.reason.trim().slice(0, 500) : '';
    const flows = [
      ...new Set(
        ([] as unknown[])
          .concat(form.flow ?? [])
          .filter((id): id is string => typeof id === 'string' && id.length <= 300),
      ),
    ];
    if (action !== 'pause' && action !== 'resume' && action !== 'cancel')
      return refuse(c, 404, 'There is no such action.', staff);
    if (!reason || flows.length === 0 || flows.length > 50)
      return c.html(
        <ErrorPage
          staff={staff}
          title="Nothing done"
          what={reason ? 'Tick between 1 and 50 flows.' : 'Say why: the reason goes on each flow’s history.'}
          todo="Go back to the list, and try again."
        />,
        400,
      );
    const id = await startBulkAction(deps, {
      tenantId: staff.tenantId,
      actor: staffActor(staff),
      action,
      reason,
      flowIds: flows,
      requestId: c.get('requestId'),
    });
    return c.redirect(`/console/flows/bulk/${id}`, 303);
  });
  pages.get('/flows/bulk/:id', async (c) => {
    const staff = c.get('staff');
    const id = c.req.param('id');
    const bulk = /^[0-9a-f-]{36}$/.test(id) ? await readBulkAction(db, staff.tenantId, id) : undefined;
    if (!bulk) return refuse(c, 404, 'There is no such bulk action in your tenant.', staff);
    return c.html(
      <BulkResultPage
        staff={staff}
        id={bulk.id}
        action={bulk.action}
        total={bulk.flow_ids.length}
        results={bulk.results}
        finished={bulk.finished_at !== null}
      />,
    );
  });

  // Something changed in the tenant's flows: the page fetches its live parts again (a burst is one message).
  pages.get('/stream', (c) => {
    const staff = c.get('staff');
    return streamSSE(c, async (stream) => {
      let pending = false;
      let beat = false;
      let closed = false;
      let wake: (() => void) | undefined;
      const unsubscribe = deps.statusHub.subscribe({ tenantId: staff.tenantId }, (notice) => {
        if (notice === 'closed') closed = true;
        else pending = true;
        wake?.();
      });
      const heartbeat = setInterval(() => {
        beat = true;
        wake?.();
      }, deps.config.stream.heartbeatMs);
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      try {
        await stream.write(': connected\n\n');
        while (!closed) {
          if (!pending && !beat)
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          wake = undefined;
          if (closed) break;
          beat = false;
          if (pending) {
            pending = false;
            await stream.writeSSE({ event: 'changed', data: '{}' });
            await stream.sleep(250);
          } else await stream.write(': heartbeat\n\n');
        }
      } finally {
        clearInterval(heartbeat);
        unsubscribe();
      }
    });
  });

  pages.all('*', (c) => refuse(c, 404, `There is no console page ${c.req.path}.`, c.get('staff')));
  app.get('/console/', (c) => c.redirect('/console', 301));
  app.route('/console', pages as never);
}
