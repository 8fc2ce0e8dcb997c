import { type Kysely, type Selectable, sql } from 'kysely';
import type { Actor } from '../domain/flow.js';
import type { LeadFacts, LeadState } from '../domain/leadToInstall.js';
import type { ConvertLead, NewLead, QualificationRules } from '../domain/leadToInstall.schema.js';
import { proposalTotal } from '../domain/proposal.js';
import { appendEvent } from './events.js';
import type { Database, LeadsTable } from './schema.js';

/**
 * Leads: the one place their state is written, each transition with its domain event in the same transaction.
 * `NEW → QUALIFIED → WON | LOST`; winning a lead creates its project. Every event of a lead's chain carries the
 * lead's flow id as its trace id.
 */

export type LeadRow = Selectable<LeadsTable>;

/** The lead, NEW, and `lead.created`; a lead id registered before writes nothing (its flow is the first's). */
export async function createLead(
  trx: Kysely<Database>,
  lead: { id: string; tenantId: string; flowId: string; architectId: string | null; actor: Actor } & Omit<
    NewLead,
    'architectId'
  >,
): Promise<void> {
  const row = await trx
    .insertInto('leads')
    .values({
      id: lead.id,
      tenant_id: lead.tenantId,
      lead_key: lead.leadId,
      state: 'NEW',
      source: lead.source,
      customer: JSON.stringify(lead.customer),
      site: JSON.stringify(lead.site),
      system_size_kwp: lead.systemSizeKwp ?? null,
      architect_id: lead.architectId,
      notes: lead.notes ?? null,
      flow_id: lead.flowId,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'lead_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!row) return;
  await appendEvent(trx, {
    tenantId: lead.tenantId,
    type: 'lead.created',
    actor: lead.actor,
    entity: { type: 'lead', id: lead.leadId },
    flowId: lead.flowId,
    traceId: lead.flowId,
    payload: { source: lead.source, architectId: lead.architectId, site: lead.site },
    idempotencyKey: `lead/${row.id}/created`,
  });
}

/** The rules a lead fails; none: it qualifies by itself. */
export function failedRules(lead: LeadRow, rules: QualificationRules): string[] {
  const failed: string[] = [];
  const { postcode, country } = lead.site;
  if (rules.serviceCountries.length > 0 && !rules.serviceCountries.includes(country))
    failed.push(`the site is in ${country}, outside the countries served`);
  if (
    rules.servicePostcodes.length > 0 &&
    !rules.servicePostcodes.some((prefix) =>
      postcode.replace(/\s/g, '').startsWith(prefix.replace(/\s/g, '')),
    )
  )
    failed.push(`postcode ${postcode} is outside the service area`);
  const size = lead.system_size_kwp === null ? undefined : Number(lead.system_size_kwp);
  if (rules.minSystemKwp !== undefined && size !== undefined && size < rules.minSystemKwp)
    failed.push(`${size} kWp is below the minimum of ${rules.minSystemKwp} kWp`);
  const present = { phone: !!lead.customer.phone, systemSizeKwp: size !== undefined, notes: !!lead.notes };
  for (const field of rules.requiredFields) if (!present[field]) failed.push(`${field} is missing`);
  return failed;
}

async function lockedLeadByKey(
  trx: Kysely<Database>,
  tenantId: string,
  leadKey: string,
): Promise<LeadRow | undefined> {
  return trx
    .selectFrom('leads')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('lead_key', '=', leadKey)
    .forUpdate()
    .executeTakeFirst();
}

async function leadById(trx: Kysely<Database>, tenantId: string, leadId: string): Promise<LeadRow> {
  return trx
    .selectFrom('leads')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', leadId)
    .forUpdate()
    .executeTakeFirstOrThrow();
}

async function moveLead(
  trx: Kysely<Database>,
  lead: LeadRow,
  to: LeadState,
  event: { type: string; actor: Actor; payload: Record<string, unknown> },
  set: { lost_reason?: string; qualification?: string } = {},
): Promise<void> {
  await trx
    .updateTable('leads')
    .set({ state: to, updated_at: sql`now()`, ...set })
    .where('id', '=', lead.id)
    .execute();
  await appendEvent(trx, {
    tenantId: lead.tenant_id,
    type: event.type,
    actor: event.actor,
    entity: { type: 'lead', id: lead.lead_key },
    flowId: lead.flow_id,
    traceId: lead.flow_id,
    payload: { from: lead.state, to, ...event.payload },
    idempotencyKey: `lead/${lead.id}/${event.type}`,
  });
}

export type Qualification = { passed: boolean; failed: string[]; state: LeadState };

/**
 * Applies the tenant's rules to a NEW lead: one that passes is QUALIFIED; one that does not keeps what it
 * failed, and waits for a coordinator. A lead past NEW is left as it is.
 */
export async function qualifyByRules(
  db: Kysely<Database>,
  input: { tenantId: string; leadId: string; rules: QualificationRules; actor: Actor },
): Promise<Qualification> {
  return db.transaction().execute(async (trx) => {
    const lead = await leadById(trx, input.tenantId, input.leadId);
    if (lead.state !== 'NEW')
      return { passed: lead.state !== 'LOST', failed: [], state: lead.state as LeadState };
    const failed = failedRules(lead, input.rules);
    const qualification = JSON.stringify({ passed: failed.length === 0, failed });
    if (failed.length === 0) {
      await moveLead(
        trx,
        lead,
        'QUALIFIED',
        { type: 'lead.qualified', actor: input.actor, payload: { by: 'rules' } },
        { qualification },
      );
      return { passed: true, failed, state: 'QUALIFIED' };
    }
    await trx.updateTable('leads').set({ qualification }).where('id', '=', lead.id).execute();
    return { passed: false, failed, state: 'NEW' };
  });
}

/** A coordinator's word on a lead the rules could not qualify: QUALIFIED, or LOST with why. */
export async function decideQualification(
  db: Kysely<Database>,
  input: { tenantId: string; leadId: string; qualified: boolean; actor: Actor; note?: string },
): Promise<LeadState> {
  return db.transaction().execute(async (trx) => {
    const lead = await leadById(trx, input.tenantId, input.leadId);
    if (lead.state !== 'NEW') return lead.state as LeadState;
    if (input.qualified) {
      await moveLead(trx, lead, 'QUALIFIED', {
        type: 'lead.qualified',
        actor: input.actor,
        payload: { by: 'coordinator', note: input.note },
      });
      return 'QUALIFIED';
    }
    const reason = input.note ?? 'disqualified';
    await moveLead(
      trx,
      lead,
      'LOST',
      { type: 'lead.lost', actor: input.actor, payload: { reason } },
      { lost_reason: reason },
    );
    return 'LOST';
  });
}

export type Conversion =
  | { result: 'converted' | 'already'; projectId: string; projectKey: string; flowId: string }
  | { result: 'not_found' }
  | { result: 'refused'; state: LeadState; why: string };

/**
 * Wins a qualified lead: the lead is WON and its project is created (DRAFT) with its contract's lines and a first,
 * empty selection; `lead.converted` and `project.created`. Converting again finds the same project.
 */
export async function convertLead(
  db: Kysely<Database>,
  input: { tenantId: string; leadKey: string; proposal: ConvertLead; actor: Actor },
): Promise<Conversion> {
  return db.transaction().execute(async (trx) => {
    const lead = await lockedLeadByKey(trx, input.tenantId, input.leadKey);
    if (!lead) return { result: 'not_found' };
    const existing = await trx
      .selectFrom('projects')
      .select(['id', 'project_key'])
      .where('tenant_id', '=', input.tenantId)
      .where('lead_id', '=', lead.id)
      .executeTakeFirst();
    if (existing)
      return {
        result: 'already',
        projectId: existing.id,
        projectKey: existing.project_key,
        flowId: lead.flow_id,
      };
    if (lead.state !== 'QUALIFIED')
      return {
        result: 'refused',
        state: lead.state as LeadState,
        why:
          lead.state === 'NEW'
            ? 'the lead is not qualified yet: a coordinator decides about it first'
            : 'the lead was lost',
      };
    const project = await trx
      .insertInto('projects')
      .values({
        tenant_id: input.tenantId,
        project_key: lead.lead_key,
        lead_id: lead.id,
        state: 'DRAFT',
        title: input.proposal.title,
        currency: input.proposal.currency,
        contract_lines: JSON.stringify(input.proposal.lines),
        contract_total: proposalTotal(input.proposal),
        flow_id: lead.flow_id,
      })
      .returning(['id', 'project_key'])
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('panel_selections')
      .values({ tenant_id: input.tenantId, project_id: project.id, version: 1, state: 'DRAFT' })
      .execute();
    await moveLead(trx, lead, 'WON', {
      type: 'lead.converted',
      actor: input.actor,
      payload: { projectKey: project.project_key },
    });
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'project.created',
      actor: input.actor,
      entity: { type: 'project', id: project.project_key },
      flowId: lead.flow_id,
      traceId: lead.flow_id,
      payload: {
        leadKey: lead.lead_key,
        title: input.proposal.title,
        currency: input.proposal.currency,
        contractTotal: proposalTotal(input.proposal),
      },
      idempotencyKey: `project/${project.id}/created`,
    });
    return {
      result: 'converted',
      projectId: project.id,
      projectKey: project.project_key,
      flowId: lead.flow_id,
    };
  });
}

export type Loss =
  | { result: 'lost' | 'already'; flowId: string }
  | { result: 'not_found' }
  | { result: 'refused'; why: string };

/** Marks an open lead LOST with why; a won lead is a project, which is cancelled instead. */
export async function loseLead(
  db: Kysely<Database>,
  input: { tenantId: string; leadKey: string; reason: string; actor: Actor },
): Promise<Loss> {
  return db.transaction().execute(async (trx) => {
    const lead = await lockedLeadByKey(trx, input.tenantId, input.leadKey);
    if (!lead) return { result: 'not_found' };
    if (lead.state === 'LOST') return { result: 'already', flowId: lead.flow_id };
    if (lead.state === 'WON')
      return { result: 'refused', why: 'the lead is a project now: cancel its flow instead' };
    await moveLead(
      trx,
      lead,
      'LOST',
      { type: 'lead.lost', actor: input.actor, payload: { reason: input.reason } },
      { lost_reason: input.reason },
    );
    return { result: 'lost', flowId: lead.flow_id };
  });
}

/** What the lead's flow reads after news. */
export async function readLead(db: Kysely<Database>, tenantId: string, leadId: string): Promise<LeadFacts> {
  const row = await db
    .selectFrom('leads')
    .leftJoin('projects', 'projects.lead_id', 'leads.id')
    .select(['leads.state', 'leads.lost_reason', 'projects.id as project_id', 'projects.project_key'])
    .where('leads.tenant_id', '=', tenantId)
    .where('leads.id', '=', leadId)
    .executeTakeFirstOrThrow();
  return {
    state: row.state as LeadState,
    lostReason: row.lost_reason,
    project:
      row.project_id && row.project_key ? { projectId: row.project_id, projectKey: row.project_key } : null,
  };
}

export interface LeadView {
  leadId: string;
  state: LeadState;
  source: string;
  customer: { name: string; email: string; phone?: string };
  site: { street: string; postcode: string; city: string; country: string };
  systemSizeKwp: number | null;
  architectId: string | null;
  notes: string | null;
  qualification: { passed: boolean; failed: string[] } | null;
  lostReason: string | null;
  flowId: string;
  createdAt: string;
  project: { projectId: string; state: string; title: string; installationAt: string | null } | null;
}

function leadViews(db: Kysely<Database>, tenantId: string) {
  return db
    .selectFrom('leads')
    .leftJoin('projects', 'projects.lead_id', 'leads.id')
    .selectAll('leads')
    .select([
      'projects.project_key',
      'projects.state as project_state',
      'projects.title as project_title',
      'projects.installation_at',
    ])
    .where('leads.tenant_id', '=', tenantId);
}

type LeadViewRow = Awaited<ReturnType<ReturnType<typeof leadViews>['executeTakeFirstOrThrow']>>;

const leadView = (row: LeadViewRow): LeadView => ({
  leadId: row.lead_key,
  state: row.state as LeadState,
  source: row.source,
  customer: row.customer,
  site: row.site,
  systemSizeKwp: row.system_size_kwp === null ? null : Number(row.system_size_kwp),
  architectId: row.architect_id,
  notes: row.notes,
  qualification: row.qualification,
  lostReason: row.lost_reason,
  flowId: row.flow_id,
  createdAt: row.created_at.toISOString(),
  project:
    row.project_key && row.project_state && row.project_title
      ? {
          projectId: row.project_key,
          state: row.project_state,
          title: row.project_title,
          installationAt: row.installation_at?.toISOString() ?? null,
        }
      : null,
});

/** A lead as its readers see it; an architect's key (`architectId`) sees its own leads only. */
export async function findLead(
  db: Kysely<Database>,
  input: { tenantId: string; leadKey: string; architectId?: string | null },
): Promise<LeadView | undefined> {
  let query = leadViews(db, input.tenantId).where('leads.lead_key', '=', input.leadKey);
  if (input.architectId) query = query.where('leads.architect_id', '=', input.architectId);
  const row = await query.executeTakeFirst();
  return row && leadView(row);
}

/** Newest first, a page at a time (`before`: the creation time of the last one seen). */
export async function listLeads(
  db: Kysely<Database>,
  input: { tenantId: string; architectId?: string | null; state?: LeadState; limit: number; before?: string },
): Promise<LeadView[]> {
  let query = leadViews(db, input.tenantId);
  if (input.architectId) query = query.where('leads.architect_id', '=', input.architectId);
  if (input.state) query = query.where('leads.state', '=', input.state);
  if (input.before) query = query.where('leads.created_at', '<', new Date(input.before));
  const rows = await query.orderBy('leads.created_at', 'desc').limit(input.limit).execute();
  return rows.map(leadView);
}

/** The id a lead key has, or will have: a lead registered before keeps its own. */
export async function leadIdFor(
  db: Kysely<Database>,
  tenantId: string,
  leadKey: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('leads')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('lead_key', '=', leadKey)
    .executeTakeFirst();
  return row?.id;
}
