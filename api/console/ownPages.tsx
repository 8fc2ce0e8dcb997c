import type { Hono } from 'hono';
import { findLead, type LeadView, listLeads } from '../../db/leads.js';
import { type JobView, listJobs } from '../../db/projects.js';
import type { StaffSession } from '../../db/staff.js';
import type { ApiDeps } from '../context.js';
import { crewScope, leadScope } from '../scopes.js';
import { Layout } from './layout.js';
import { ErrorPage } from './pages.js';
import type { ConsoleEnv } from './session.js';

/**
 * The pages of people outside the office: an architect's leads (their own only) and a crew's jobs (their own
 * only), readable on a phone. Operations staff open them too, and see everyone's.
 */
export function registerOwnPages(pages: Hono<ConsoleEnv>, deps: Pick<ApiDeps, 'db'>): void {
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
  pages.get('/jobs', async (c) => {
    const staff = c.get('staff');
    const jobs = await listJobs(deps.db, { tenantId: staff.tenantId, crewId: crewScope(staff) });
    return c.html(<JobsPage staff={staff} jobs={jobs} />);
  });
}

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

function JobsPage(props: { staff: StaffSession; jobs: JobView[] }) {
  return (
    <Layout title="Jobs" staff={props.staff} path="/console/jobs">
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
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}
