import type { NeedsMeFilter, NeedsMeItem, NeedsMeKind } from '../../db/needsMe.js';
import type { StaffSession } from '../../db/staff.js';
import { age, CsrfField, flowHref, Layout } from './layout.js';

export function SignInPage(props: { csrf: string; next: string; error?: string; email?: string }) {
  return (
    <Layout title="Sign in">
      <form method="post" action="/console/sign-in" class="narrow">
        <CsrfField token={props.csrf} />
        <input type="hidden" name="next" value={props.next} />
        {props.error && (
          <p class="error" role="alert">
            {props.error}
          </p>
        )}
        <label for="email">Email</label>
        <input
          id="email"
          name="email"
          type="email"
          autocomplete="username"
          required
          value={props.email ?? ''}
        />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <p>
          <button type="submit">Sign in</button>
        </p>
      </form>
    </Layout>
  );
}

export function InvitePage(props: { name: string; email: string; csrf: string; error?: string }) {
  return (
    <Layout title={`Welcome, ${props.name}`}>
      <form method="post" class="narrow">
        <CsrfField token={props.csrf} />
        <p>
          Choose a password for <strong>{props.email}</strong>. At least 12 characters; a sentence you will
          remember is good.
        </p>
        {props.error && (
          <p class="error" role="alert">
            {props.error}
          </p>
        )}
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="new-password"
          minlength={12}
          required
        />
        <p>
          <button type="submit">Set password</button>
        </p>
      </form>
    </Layout>
  );
}

/** A page for something that went wrong: what happened, and what to do. */
export function ErrorPage(props: { title: string; what: string; todo: string; staff?: StaffSession }) {
  return (
    <Layout title={props.title} staff={props.staff}>
      <p>{props.what}</p>
      <p>{props.todo}</p>
      <p>
        <a href="/console/needs-me">Back to what needs you</a>
      </p>
    </Layout>
  );
}

/** Items on one page: a person works through them from the top; the counts say how many there are. */
const PAGE = 100;

const KINDS: Record<NeedsMeKind, string> = {
  attention: 'Needs a decision',
  retrying: 'Failing, retrying',
  unapplied_payment: 'Unapplied payment',
  late_supplier_order: 'Late supplier order',
};

function Item(props: { item: NeedsMeItem; now: Date; staff: StaffSession }) {
  const { item, staff } = props;
  const mine = item.assignee?.userId === staff.userId;
  const headingId = `item-${item.key.replace(/[^\w-]/g, '-')}`;
  return (
    <li class={`item ${item.kind}`} aria-labelledby={headingId}>
      <h2 id={headingId}>
        {KINDS[item.kind]}:{' '}
        {item.root ? (
          <a href={flowHref(item.root.flowId)}>
            {item.root.flowType} {item.root.businessKey}
          </a>
        ) : (
          item.why
        )}
      </h2>
      <dl>
        {item.flowId && item.flowId !== item.root?.flowId && (
          <>
            <dt>Flow</dt>
            <dd>
              <a href={flowHref(item.flowId)}>{item.flowId}</a>
            </dd>
          </>
        )}
        {item.step && (
          <>
            <dt>Step</dt>
            <dd>{item.step}</dd>
          </>
        )}
        <dt>Why</dt>
        <dd>{item.why}</dd>
        <dt>Since</dt>
        <dd>
          <time datetime={item.since.toISOString()}>{age(item.since, props.now)} ago</time>
        </dd>
        {item.attempt !== null && (
          <>
            <dt>Attempt</dt>
            <dd>{item.attempt}</dd>
          </>
        )}
        {item.lastError && (
          <>
            <dt>Last error</dt>
            <dd>{item.lastError}</dd>
          </>
        )}
        {item.decisions.length > 0 && (
          <>
            <dt>Decisions</dt>
            <dd>{item.decisions.join(', ')}</dd>
          </>
        )}
        <dt>Assigned to</dt>
        <dd>{item.assignee ? (mine ? 'you' : item.assignee.name) : 'nobody'}</dd>
      </dl>
      <form method="post" action="/console/needs-me/assign">
        <CsrfField token={staff.csrfToken} />
        <input type="hidden" name="item" value={item.key} />
        <input type="hidden" name="to" value={mine ? 'nobody' : 'me'} />
        <button type="submit" class="quiet">
          {mine ? 'Give back' : 'Take it'}
        </button>
      </form>
    </li>
  );
}

export function NeedsMePage(props: {
  staff: StaffSession;
  items: NeedsMeItem[];
  filter: NeedsMeFilter;
  now: Date;
  url: string;
}) {
  const { items, filter } = props;
  const count = (kind: NeedsMeKind) => items.filter((item) => item.kind === kind).length;
  return (
    <Layout title="Needs me now" staff={props.staff} path="/console/needs-me">
      <form method="get" class="filters" aria-label="Filter and sort">
        <div>
          <label for="kind">Type</label>
          <select id="kind" name="kind">
            <option value="">Everything</option>
            {Object.entries(KINDS).map(([value, label]) => (
              <option value={value} selected={filter.kind === value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="assignee">Assigned to</label>
          <select id="assignee" name="assignee">
            <option value="">Anyone</option>
            <option value="me" selected={filter.assignee === props.staff.userId}>
              Me
            </option>
            <option value="unassigned" selected={filter.assignee === 'unassigned'}>
              Nobody
            </option>
          </select>
        </div>
        <div>
          <label for="sort">Order</label>
          <select id="sort" name="sort">
            <option value="oldest" selected={filter.sort !== 'newest'}>
              Oldest first
            </option>
            <option value="newest" selected={filter.sort === 'newest'}>
              Newest first
            </option>
          </select>
        </div>
        <button type="submit">Show</button>
      </form>
      <section
        id="needs-me"
        aria-live="polite"
        hx-get={props.url}
        hx-trigger="changed from:body"
        hx-select="#needs-me"
        hx-swap="outerHTML"
      >
        <ul class="counts" aria-label="Counts">
          {(Object.keys(KINDS) as NeedsMeKind[]).map((kind) => (
            <li>
              {KINDS[kind]}: <strong>{count(kind)}</strong>
            </li>
          ))}
        </ul>
        {items.length === 0 ? (
          <p>Nothing needs you now.</p>
        ) : (
          <>
            {items.length > PAGE && (
              <p>
                Showing the first {PAGE} of {items.length}: filter by type or assignee to see the others.
              </p>
            )}
            <ul class="items">
              {items.slice(0, PAGE).map((item) => (
                <Item item={item} now={props.now} staff={props.staff} />
              ))}
            </ul>
          </>
        )}
      </section>
      <script src="/console/assets/live.js" defer />
    </Layout>
  );
}

export interface FlowRow {
  id: string;
  flowType: string;
  businessKey: string;
  state: string;
  currentStep: string | null;
  startedAt: Date;
  updatedAt: Date;
  temporalUiUrl: string | null;
}

export interface BulkResult {
  flowId: string;
  ok: boolean;
  said: string;
}

const STATES = [
  'running',
  'waiting',
  'retrying',
  'needs_attention',
  'paused',
  'stuck',
  'completed',
  'cancelled',
  'failed',
  'terminated',
];

export function FlowsPage(props: {
  staff: StaffSession;
  rows: FlowRow[];
  counts: Record<string, number>;
  filter: { type?: string; state?: string; q?: string; from?: string; to?: string };
  types: string[];
  now: Date;
}) {
  const { filter, staff } = props;
  return (
    <Layout title="Flows" staff={staff} path="/console/flows">
      <form method="get" class="filters" aria-label="Filter flows">
        <div>
          <label for="type">Type</label>
          <select id="type" name="type">
            <option value="">Every type</option>
            {props.types.map((type) => (
              <option value={type} selected={filter.type === type}>
                {type}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="state">State</label>
          <select id="state" name="state">
            <option value="">Every state</option>
            {STATES.map((state) => (
              <option value={state} selected={filter.state === state}>
                {state}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="q">Text</label>
          <input id="q" name="q" value={filter.q ?? ''} />
        </div>
        <div>
          <label for="from">Started from</label>
          <input id="from" name="from" type="date" value={filter.from ?? ''} />
        </div>
        <div>
          <label for="to">Started before</label>
          <input id="to" name="to" type="date" value={filter.to ?? ''} />
        </div>
        <button type="submit">Show</button>
      </form>
      <ul class="counts" aria-label="Flows per state">
        {Object.entries(props.counts).map(([state, count]) => (
          <li>
            {state}: <strong>{count}</strong>
          </li>
        ))}
      </ul>
      <form
        method="post"
        action="/console/flows/bulk"
        hx-post="/console/flows/bulk"
        hx-target="#bulk-result"
        hx-select="#bulk-result"
        hx-swap="outerHTML"
        hx-indicator="#working"
      >
        <CsrfField token={staff.csrfToken} />
        <fieldset class="filters">
          <legend>With the flows ticked below</legend>
          <div>
            <label for="action">Action</label>
            <select id="action" name="action">
              <option value="pause">Pause</option>
              <option value="resume">Resume</option>
              <option value="cancel">Cancel</option>
            </select>
          </div>
          <div>
            <label for="reason">Reason</label>
            <input id="reason" name="reason" required maxlength={500} />
          </div>
          <button type="submit">Do it</button>
          <span id="working" class="htmx-indicator" role="status">
            Working on the flows…
          </span>
        </fieldset>
        <div id="bulk-result" />
        <table>
          <caption class="skip">Flows, most recently changed first</caption>
          <thead>
            <tr>
              <th scope="col">Pick</th>
              <th scope="col">Flow</th>
              <th scope="col">State</th>
              <th scope="col">Step</th>
              <th scope="col">Changed</th>
              <th scope="col">Temporal</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((row) => (
              <tr>
                <td>
                  <input
                    type="checkbox"
                    name="flow"
                    value={row.id}
                    id={`pick-${row.id}`}
                    aria-label={`Pick ${row.flowType} ${row.businessKey}`}
                  />
                </td>
                <td>
                  <a href={flowHref(row.id)}>
                    {row.flowType} {row.businessKey}
                  </a>
                </td>
                <td>{row.state}</td>
                <td>{row.currentStep ?? '—'}</td>
                <td>
                  <time datetime={row.updatedAt.toISOString()}>{age(row.updatedAt, props.now)} ago</time>
                </td>
                <td>{row.temporalUiUrl ? <a href={row.temporalUiUrl}>history</a> : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </form>
    </Layout>
  );
}

export function BulkResultPage(props: {
  staff: StaffSession;
  id: string;
  action: string;
  total: number;
  results: BulkResult[];
  finished: boolean;
}) {
  const done = props.results.filter((result) => result.ok).length;
  const path = `/console/flows/bulk/${props.id}`;
  return (
    <Layout title="Flows" staff={props.staff} path="/console/flows">
      <section
        id="bulk-result"
        aria-live="polite"
        hx-get={props.finished ? undefined : path}
        hx-trigger={props.finished ? undefined : 'every 500ms'}
        hx-select="#bulk-result"
        hx-swap="outerHTML"
      >
        <h2>
          {props.action}: {done} of {props.total} done
        </h2>
        <p>
          <progress value={props.results.length} max={props.total}>
            {props.results.length} of {props.total} answered
          </progress>{' '}
          {props.finished
            ? 'Every flow has answered.'
            : `${props.results.length} of ${props.total} answered; working on the others…`}
        </p>
        <ul>
          {props.results.map((result) => (
            <li data-flow={result.flowId}>
              {result.flowId}: {result.ok ? 'done' : 'not done'} — {result.said}
            </li>
          ))}
        </ul>
        <p>
          <a href="/console/flows">Back to the list</a>
        </p>
      </section>
    </Layout>
  );
}
