import type { Context, Hono } from 'hono';
import { findLead, type LeadView, listLeads } from '../../db/leads.js';
import { type JobView, listJobs } from '../../db/projects.js';
import type { StaffSession } from '../../db/staff.js';
import { CompleteInstallation, ReportProblem } from '../../domain/leadToInstall.schema.js';
import type { ApiDeps } from '../context.js';
import { actOnJob, type JobAction } from '../jobActions.js';
import { crewScope, leadScope } from '../scopes.js';
import { CsrfField, Layout, Notice } from './layout.js';
import { ErrorPage } from './pages.js';
import { type ConsoleEnv, staffActor } from './session.js';

/**
 * The pages of people outside the office: an architect's leads (their own only) and a crew's jobs (their own
 * only), readable on a phone. Operations staff open them too, and see everyone's.
 */
export function registerOwnPages(pages: Hono<ConsoleEnv>, deps: Pick<ApiDeps, 'db' | 'temporal'>): void {
  pages.get('/leads', async (c) => {
    const staff = c.get('staff');
    const leads = await listLeads(deps.db, {
      tenantId: staff.tenantId,
      architectId: leadScope(staff),
      limit: 100,
    });
    return c.html(<LeadsPage staff={staff} leads={leads} />);
  });
  pages.get('/leads/:leadKey', async (c) => {
    const staff = c.get('staff');
    const lead = await findLead(deps.db, {
      tenantId: staff.tenantId,
      leadKey: c.req.param('leadKey'),
      architectId: leadScope(staff),
    });
    if (!lead)
      return c.html(
        <ErrorPage
          staff={staff}
          title="Not found"
          what={`There is no lead ${c.req.param('leadKey')} among yours.`}
          todo="Start again from your list of leads."
        />,
        404,
      );
    return c.html(<LeadPage staff={staff} lead={lead} />);
  });
  const jobsPage = async (
    c: Context<ConsoleEnv>,
    notice?: { ok: boolean; text: string },
    status: 200 | 400 | 404 | 409 = 200,
  ) => {
    const staff = c.get('staff');
    const jobs = await listJobs(deps.db, { tenantId: staff.tenantId, crewId: crewScope(staff) });
    return c.html(<JobsPage staff={staff} jobs={jobs} notice={notice} />, status);
  };
  pages.get('/jobs', (c) => {
    const done = JOB_DONE.find((kind) => kind === c.req.query('done'));
    return jobsPage(c, done && { ok: true, text: DONE_TEXT[done] });
  });
  // A crew's word on a job, as through /v1/jobs: recorded on the project, then its flow hears it.
  pages.post('/jobs/:projectKey/:kind', async (c) => {
    const staff = c.get('staff');
    const kind = JOB_DONE.find((candidate) => candidate === c.req.param('kind'));
    if (!kind) return jobsPage(c, { ok: false, text: 'There is no such thing to do on a job.' }, 404);
    const body = await c.req.parseBody();
    const text = (name: string) => (typeof body[name] === 'string' ? body[name].trim() : '');
    let action: JobAction = { kind: 'start' };
    if (kind === 'problem') {
      const problem = ReportProblem.safeParse({ description: text('description') });
      if (!problem.success) return jobsPage(c, { ok: false, text: 'Say what the problem is.' }, 400);
      action = { kind, description: problem.data.description };
    }
    if (kind === 'complete') {
      const done = text('done')
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
      const completion = CompleteInstallation.safeParse({
        checklist: Object.fromEntries(done.map((item) => [item, true])),
        notes: text('notes') || undefined,
      });
      if (!completion.success)
        return jobsPage(
          c,
          { ok: false, text: `Not completed: ${completion.error.issues[0]?.message}.` },
          400,
        );
      action = { kind, ...completion.data };
    }
    const report = await actOnJob(
      deps,
      { tenantId: staff.tenantId, crewId: crewScope(staff), actor: staffActor(staff) },
      c.req.param('projectKey'),
      action,
    );
    if (report.result === 'not_found')
      return jobsPage(c, { ok: false, text: 'That job is not one of your crew’s.' }, 404);
    if (report.result === 'refused')
      return jobsPage(c, { ok: false, text: `Not possible now: ${report.why}.` }, 409);
    return c.redirect(`/console/jobs?done=${kind}`, 303);
  });
}

const JOB_DONE = ['start', 'complete', 'problem'] as const;
const DONE_TEXT: Record<(typeof JOB_DONE)[number], string> = {
  start: 'The job is started.',
  complete: 'The job is completed. Thank you.',
  problem: 'The problem is reported; a coordinator will call you.',
};

const day = (iso: string) => iso.slice(0, 16).replace('T', ' ');
const place = (site: LeadView['site']) => `${site.street}, ${site.postcode} ${site.city}`;

function LeadsPage(props: { staff: StaffSession; leads: LeadView[] }) {
  return (
    <Layout title="Leads" staff={props.staff} path="/console/leads">
      {props.leads.length === 0 ? (
        <p>No leads yet.</p>
      ) : (
        <ul class="items">
          {props.leads.map((lead) => (
            <li class="item">
              <h2>
                <a href={`/console/leads/${encodeURIComponent(lead.leadId)}`}>{lead.customer.name}</a>
              </h2>
              <dl>
                <dt>Lead</dt>
                <dd>{lead.leadId}</dd>
                <dt>State</dt>
                <dd>{lead.state}</dd>
                <dt>Site</dt>
                <dd>{place(lead.site)}</dd>
                {lead.project && (
                  <>
                    <dt>Project</dt>
                    <dd>
                      {lead.project.title} ({lead.project.state})
                    </dd>
                  </>
                )}
              </dl>
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}

function LeadPage(props: { staff: StaffSession; lead: LeadView }) {
  const { lead } = props;
  return (
    <Layout title={`Lead ${lead.leadId}`} staff={props.staff} path="/console/leads">
      <dl class="facts">
        <dt>Customer</dt>
        <dd>{lead.customer.name}</dd>
        <dt>State</dt>
        <dd>{lead.state}</dd>
        <dt>Site</dt>
        <dd>{place(lead.site)}</dd>
        <dt>Registered</dt>
        <dd>{day(lead.createdAt)}</dd>
        {lead.systemSizeKwp !== null && (
          <>
            <dt>System size</dt>
            <dd>{lead.systemSizeKwp} kWp</dd>
          </>
        )}
        {lead.qualification && !lead.qualification.passed && (
          <>
            <dt>Not qualified because</dt>
            <dd>{lead.qualification.failed.join(', ')}</dd>
          </>
        )}
        {lead.lostReason && (
          <>
            <dt>Lost because</dt>
            <dd>{lead.lostReason}</dd>
          </>
        )}
        {lead.project && (
          <>
            <dt>Project</dt>
            <dd>
              {lead.project.title} ({lead.project.state})
              {lead.project.installationAt && <>, installation {day(lead.project.installationAt)}</>}
            </dd>
          </>
        )}
      </dl>
      <p>
        <a href="/console/leads">All your leads</a>
      </p>
    </Layout>
  );
}

function JobsPage(props: { staff: StaffSession; jobs: JobView[]; notice?: { ok: boolean; text: string } }) {
  return (
    <Layout title="Jobs" staff={props.staff} path="/console/jobs">
      <Notice notice={props.notice} />
      {props.jobs.length === 0 ? (
        <p>No installations booked.</p>
      ) : (
        <ul class="items">
          {props.jobs.map((job) => (
            <li class={`item${job.openProblem ? ' attention' : ''}`}>
              <h2>
                {day(job.installationAt)}: {job.title}
              </h2>
              <dl>
                <dt>Where</dt>
                <dd>{place(job.site)}</dd>
                <dt>Customer</dt>
                <dd>
                  {job.customer.name}
                  {job.customer.phone && (
                    <>
                      , <a href={`tel:${job.customer.phone}`}>{job.customer.phone}</a>
                    </>
                  )}
                </dd>
                <dt>State</dt>
                <dd>
                  {job.state}
                  {job.confirmed ? '' : ' (date not confirmed yet)'}
                </dd>
                {job.openProblem && (
                  <>
                    <dt>Open problem</dt>
                    <dd>{job.openProblem}</dd>
                  </>
                )}
              </dl>
              <JobForms job={job} csrf={props.staff.csrfToken} />
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}

/** What the crew can do on the job now: start it once confirmed, complete it when started, report a problem. */
function JobForms(props: { job: JobView; csrf: string }) {
  const { job } = props;
  const base = `/console/jobs/${encodeURIComponent(job.projectId)}`;
  const id = (name: string) => `job-${job.projectId}-${name}`.replace(/[^\w-]/g, '-');
  return (
    <div class="decisions">
      {job.state === 'SCHEDULED' && job.confirmed && (
        <form method="post" action={`${base}/start`}>
          <CsrfField token={props.csrf} />
          <button type="submit">Start the job</button>
        </form>
      )}
      {job.state === 'IN_PROGRESS' && !job.openProblem && (
        <form method="post" action={`${base}/complete`}>
          <fieldset>
            <legend>Complete</legend>
            <CsrfField token={props.csrf} />
            <label for={id('done')}>Done, one item per line</label>
            <textarea id={id('done')} name="done" />
            <label for={id('notes')}>Notes (optional)</label>
            <textarea id={id('notes')} name="notes" />
            <button type="submit">Complete the job</button>
          </fieldset>
        </form>
      )}
      <form method="post" action={`${base}/problem`}>
        <fieldset>
          <legend>Report a problem</legend>
          <CsrfField token={props.csrf} />
          <label for={id('description')}>What is wrong</label>
          <textarea id={id('description')} name="description" required />
          <button type="submit" class="quiet">
            Report it
          </button>
        </fieldset>
      </form>
    </div>
  );
}
