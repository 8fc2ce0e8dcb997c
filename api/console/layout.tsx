import type { Child } from 'hono/jsx';
import type { StaffSession } from '../../db/staff.js';
import type { Role } from '../../domain/roles.js';
import { CSRF_FIELD, CSRF_HEADER } from './session.js';

/** A duration for people: "3 d 4 h", "2 h 5 min", "40 s". */
export function duration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const [d, h, m] = [
    Math.floor(seconds / 86_400),
    Math.floor(seconds / 3600) % 24,
    Math.floor(seconds / 60) % 60,
  ];
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return m > 0 ? `${m} min` : `${seconds} s`;
}

/** How long ago, for people. */
export const age = (since: Date, now: Date) => duration((now.getTime() - since.getTime()) / 1000);

export const flowHref = (flowId: string) => `/console/flows/${encodeURIComponent(flowId)}`;

const STYLE = `
:root { color-scheme: light; --ink: #1d232b; --muted: #5a6573; --line: #d5dbe3; --accent: #0b57d0; --warn: #a15c00; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--ink); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem; }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
header nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header nav a[aria-current="page"] { font-weight: 700; text-decoration: none; }
header form { margin-left: auto; }
main { padding: 1rem; max-width: 72rem; margin: 0 auto; overflow-wrap: anywhere; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
input, select, button { font: inherit; padding: .4rem .6rem; border: 1px solid var(--line); border-radius: 4px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.quiet { background: #fff; color: var(--accent); }
.filters { display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; margin-bottom: 1rem; }
.filters label { margin: 0 0 .25rem; }
.counts { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; list-style: none; padding: 0; color: var(--muted); }
.items { list-style: none; padding: 0; display: grid; gap: .75rem; }
.item { border: 1px solid var(--line); border-left: 4px solid var(--warn); border-radius: 6px; padding: .75rem 1rem; }
.item.attention { border-left-color: var(--bad); }
.item h2 { font-size: 1.05rem; margin: 0 0 .25rem; }
.item dl, dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: .5rem 0; }
.item dt, .facts dt { color: var(--muted); } .item dd, .facts dd { margin: 0; overflow-wrap: anywhere; }
.item form { display: inline; }
.error { color: var(--bad); font-weight: 600; }
.notice { color: #0d652d; font-weight: 600; }
.hint { display: block; color: var(--muted); }
.decisions { display: grid; gap: .75rem; }
.decisions fieldset { margin: 0; }
textarea { font: inherit; width: 100%; min-height: 4rem; }
code.hash { overflow-wrap: anywhere; font-size: .85rem; }
.narrow { max-width: 26rem; }
table { width: 100%; border-collapse: collapse; display: block; overflow-x: auto; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
fieldset { border: 1px solid var(--line); border-radius: 6px; }
.chart { width: 100%; max-width: 48rem; height: auto; display: block; }
.axis { font-size: 12px; fill: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; padding: 0; }
.dashboard section { margin-bottom: 1.5rem; }
@media (max-width: 40rem) { .item dl, dl.facts { grid-template-columns: 1fr; } header form { margin-left: 0; } }
`;

const OPERATIONS: readonly Role[] = ['admin', 'coordinator', 'finance', 'warehouse', 'viewer'];

/**
 * The console's pages and who opens each: operations staff work on flows; architects see their own leads, crews
 * their own jobs (each page scopes what it lists by the same rule as the API, `api/scopes.ts`).
 */
export const PAGES = [
  { href: '/console/needs-me', label: 'Needs me now', roles: OPERATIONS },
  { href: '/console/flows', label: 'Flows', roles: OPERATIONS },
  { href: '/console/dashboard', label: 'Dashboard', roles: OPERATIONS },
  { href: '/console/leads', label: 'Leads', roles: [...OPERATIONS, 'architect'] },
  { href: '/console/jobs', label: 'Jobs', roles: ['admin', 'coordinator', 'installer'] },
  { href: '/console/settings', label: 'Settings', roles: ['admin'] },
] as const satisfies readonly { href: string; label: string; roles: readonly Role[] }[];

export const pagesFor = (staff: Pick<StaffSession, 'roles'>) =>
  PAGES.filter((page) => page.roles.some((role) => staff.roles.includes(role)));

export function Layout(props: { title: string; staff?: StaffSession; path?: string; children: Child }) {
  const { staff } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Flowdesk`}</title>
        <style>{STYLE}</style>
        <script src="/console/assets/htmx.min.js" defer />
      </head>
      <body hx-headers={staff ? JSON.stringify({ [CSRF_HEADER]: staff.csrfToken }) : undefined}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header>
          <strong>Flowdesk</strong>
          {staff && (
            <>
              <nav aria-label="Console">
                <ul>
                  {pagesFor(staff).map((page) => (
                    <li>
                      <a href={page.href} aria-current={props.path === page.href ? 'page' : undefined}>
                        {page.label}
                      </a>
                    </li>
                  ))}
                </ul>
              </nav>
              <form method="post" action="/console/sign-out">
                <CsrfField token={staff.csrfToken} />
                <span>
                  {staff.name} ({staff.tenantSlug}){' '}
                </span>
                <button type="submit" class="quiet">
                  Sign out
                </button>
              </form>
            </>
          )}
        </header>
        <main id="main">
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

export function CsrfField(props: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={props.token} />;
}

/** What an action came to (a status), or why it was not done (an alert). */
export function Notice(props: { notice?: { ok: boolean; text: string } }) {
  if (!props.notice) return null;
  return (
    <p class={props.notice.ok ? 'notice' : 'error'} role={props.notice.ok ? 'status' : 'alert'}>
      {props.notice.text}
    </p>
  );
}
