import { type Kysely, sql } from 'kysely';
import type { PricedLine } from '../domain/catalogue.schema.js';
import type { Actor } from '../domain/flow.js';
import type { ProjectFacts, ProjectState, SelectionState } from '../domain/leadToInstall.js';
import { appendEvent } from './events.js';
import { advanceSelection, currentSelection } from './panelSelections.js';
import { eventCount, type ProjectRow, projectEvent, projectOfTenant } from './projectEvents.js';
import type { Database } from './schema.js';

/**
 * Projects: the one place their state and installation slot are written, each change with its domain event.
 * `DRAFT → CONFIRMED → SCHEDULED → IN_PROGRESS → DONE → CLOSED`, or CANCELLED. A crew does at most
 * `jobs_per_day` installations a day and `weekly_capacity` a week; bookings of a crew are made one at a time.
 */

export type { ProjectRow };

const OPEN_STATES: ProjectState[] = ['DRAFT', 'CONFIRMED', 'SCHEDULED', 'IN_PROGRESS', 'DONE'];

export async function projectByKey(
  db: Kysely<Database>,
  tenantId: string,
  projectKey: string,
): Promise<ProjectRow | undefined> {
  return db
    .selectFrom('projects')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('project_key', '=', projectKey)
    .executeTakeFirst();
}

/** Moves a project from one of `from` to `to` with its event; from anywhere else it changes nothing. */
async function moveProject(
  trx: Kysely<Database>,
  project: ProjectRow,
  from: ProjectState[],
  to: ProjectState,
  event: { type: string; actor: Actor; payload?: Record<string, unknown> },
  set: Partial<Record<'checklist' | 'completion_notes' | 'open_problem', string | null>> = {},
): Promise<boolean> {
  if (!from.includes(project.state as ProjectState)) return false;
  await trx
    .updateTable('projects')
    .set({ state: to, updated_at: sql`now()`, ...set })
    .where('id', '=', project.id)
    .execute();
  await appendEvent(
    trx,
    projectEvent(
      project,
      {
        entity: 'project',
        type: event.type,
        actor: event.actor,
        payload: { from: project.state, to, ...event.payload },
      },
      to,
    ),
  );
  return true;
}

/** What the project's flow reads after news. */
export async function readProject(
  db: Kysely<Database>,
  tenantId: string,
  projectId: string,
): Promise<ProjectFacts> {
  const project = await db
    .selectFrom('projects')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', projectId)
    .executeTakeFirstOrThrow();
  const selection = await currentSelection(db, projectId);
  const open = await db
    .selectFrom('selection_change_requests')
    .select(['id', 'reason'])
    .where('project_id', '=', projectId)
    .where('state', '=', 'REQUESTED')
    .executeTakeFirst();
  const linkRequests = await eventCount(db, tenantId, project.project_key, 'configurator.link.requested');
  return {
    state: project.state as ProjectState,
    selection: {
      selectionId: selection.id,
      version: selection.version,
      state: selection.state as SelectionState,
      total: selection.total === null ? null : Number(selection.total),
    },
    openChangeRequest: open ? { requestId: open.id, reason: open.reason } : null,
    linkRequests,
    installation:
      project.installation_at && project.crew_id
        ? {
            at: project.installation_at.toISOString(),
            crewId: project.crew_id,
            tentative: project.installation_tentative,
          }
        : null,
    problem: project.open_problem,
  };
}

/** The locked selection's lines, as priced at the lock. */
export async function lockedLines(
  db: Kysely<Database>,
  projectId: string,
): Promise<{ version: number; lines: PricedLine[]; total: number }> {
  const selection = await currentSelection(db, projectId);
  if (selection.state === 'DRAFT') throw new Error(`the selection of project ${projectId} is not locked`);
  return {
    version: selection.version,
    lines: selection.lines as PricedLine[],
    total: Number(selection.total),
  };
}

/** The signed contract makes the project CONFIRMED (`project.confirmed`). */
export async function confirmProject(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; actor: Actor },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId, { forUpdate: true });
    await moveProject(trx, project, ['DRAFT'], 'CONFIRMED', {
      type: 'project.confirmed',
      actor: input.actor,
    });
  });
}

/** An expired configurator link was opened: the customer gets a fresh one, once per expired link. */
export async function requestFreshLink(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; expiredAt: number; actor: Actor },
): Promise<{ flowId: string }> {
  const project = await db
    .selectFrom('projects')
    .selectAll()
    .where('tenant_id', '=', input.tenantId)
    .where('id', '=', input.projectId)
    .executeTakeFirstOrThrow();
  await appendEvent(
    db,
    projectEvent(
      project,
      {
        entity: 'project',
        type: 'configurator.link.requested',
        actor: input.actor,
        payload: { expiredAt: new Date(input.expiredAt).toISOString() },
      },
      `link-requested/${input.expiredAt}`,
    ),
  );
  return { flowId: project.flow_id };
}

/** Whether the crew has room on the day of `at` (UTC) and in its week, leaving out `project`'s own booking. */
async function crewHasRoom(
  trx: Kysely<Database>,
  crew: { id: string; jobs_per_day: number; weekly_capacity: number },
  at: Date,
  projectId: string,
): Promise<boolean> {
  const day = at.toISOString().slice(0, 10);
  const { sameDay, sameWeek } = await trx
    .selectFrom('projects')
    .select([
      sql<string>`count(*) filter (where installation_day = ${day}::date)`.as('sameDay'),
      sql<string>`count(*) filter (where date_trunc('week', installation_day) = date_trunc('week', ${day}::date))`.as(
        'sameWeek',
      ),
    ])
    .where('crew_id', '=', crew.id)
    .where('id', '!=', projectId)
    .where('state', 'in', OPEN_STATES)
    .where('installation_day', 'is not', null)
    .executeTakeFirstOrThrow();
  return Number(sameDay) < crew.jobs_per_day && Number(sameWeek) < crew.weekly_capacity;
}

/** The tenant's active crews, locked: bookings are made one at a time. */
function lockedCrews(trx: Kysely<Database>, tenantId: string) {
  return trx
    .selectFrom('crews')
    .select(['id', 'name', 'jobs_per_day', 'weekly_capacity'])
    .where('tenant_id', '=', tenantId)
    .where('active', '=', true)
    .orderBy('name')
    .forUpdate()
    .execute();
}

export type Booking =
  | { result: 'booked' | 'already'; at: string; crewId: string }
  | { result: 'no_capacity'; why: string };

const DAY_MS = 86_400_000;
const DAYS_SEARCHED = 366;

/**
 * Proposes the first slot at or after `earliest` that a crew has room for (same time of day, a day later each
 * try) and books it, tentative: the project is SCHEDULED (`project.scheduled`). A project booked before keeps
 * its slot.
 */
export async function proposeInstallation(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; earliest: string; actor: Actor },
): Promise<Booking> {
  return db.transaction().execute(async (trx) => {
    const crews = await lockedCrews(trx, input.tenantId);
    const project = await projectOfTenant(trx, input.tenantId, input.projectId, { forUpdate: true });
    if (project.installation_at && project.crew_id)
      return { result: 'already', at: project.installation_at.toISOString(), crewId: project.crew_id };
    if (crews.length === 0) return { result: 'no_capacity', why: 'the tenant has no active crew' };
    const earliest = Date.parse(input.earliest);
    for (let day = 0; day < DAYS_SEARCHED; day++) {
      const at = new Date(earliest + day * DAY_MS);
      for (const crew of crews) {
        if (!(await crewHasRoom(trx, crew, at, project.id))) continue;
        await book(trx, project, crew.id, at, true);
        await moveProject(trx, project, ['CONFIRMED'], 'SCHEDULED', {
          type: 'project.scheduled',
          actor: input.actor,
          payload: { tentative: true, at: at.toISOString(), crew: crew.name },
        });
        return { result: 'booked', at: at.toISOString(), crewId: crew.id };
      }
    }
    return {
      result: 'no_capacity',
      why: `no crew has room within ${DAYS_SEARCHED} days of ${input.earliest}`,
    };
  });
}

async function book(
  trx: Kysely<Database>,
  project: ProjectRow,
  crewId: string,
  at: Date,
  tentative: boolean,
) {
  await trx
    .updateTable('projects')
    .set({
      crew_id: crewId,
      installation_at: at,
      installation_day: sql<string>`(${at.toISOString()}::timestamptz at time zone 'UTC')::date`,
      installation_tentative: tentative,
      updated_at: sql`now()`,
    })
    .where('id', '=', project.id)
    .execute();
}

export type Confirmation = { result: 'confirmed' | 'already' } | { result: 'conflict'; why: string };

/**
 * Confirms the tentative slot once the goods are in: the date has not passed and the crew still has room, or a
 * coordinator overrides the crew's capacity with a note (`project.scheduled`, no longer tentative).
 */
export async function confirmInstallation(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; actor: Actor; overrideNote?: string },
): Promise<Confirmation> {
  return db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId, { forUpdate: true });
    if (!project.installation_at || !project.crew_id) return { result: 'conflict', why: 'no slot is booked' };
    if (!project.installation_tentative) return { result: 'already' };
    if (project.installation_at.getTime() <= Date.now())
      return {
        result: 'conflict',
        why: `the installation date ${project.installation_at.toISOString()} has passed`,
      };
    const crew = await trx
      .selectFrom('crews')
      .select(['id', 'name', 'jobs_per_day', 'weekly_capacity'])
      .where('id', '=', project.crew_id)
      .forUpdate()
      .executeTakeFirstOrThrow();
    if (!input.overrideNote && !(await crewHasRoom(trx, crew, project.installation_at, project.id)))
      return {
        result: 'conflict',
        why: `${crew.name} has no room on ${project.installation_at.toISOString().slice(0, 10)}`,
      };
    await trx
      .updateTable('projects')
      .set({
        installation_tentative: false,
        capacity_note: input.overrideNote ?? null,
        updated_at: sql`now()`,
      })
      .where('id', '=', project.id)
      .execute();
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'project',
          type: 'project.scheduled',
          actor: input.actor,
          payload: {
            tentative: false,
            at: project.installation_at.toISOString(),
            crew: crew.name,
            capacityOverride: input.overrideNote,
          },
        },
        'scheduled/confirmed',
      ),
    );
    return { result: 'confirmed' };
  });
}

/**
 * Moves the installation (a coordinator's decision): the same crew when it has room that day, else another
 * that has, else the same crew (the confirmation then asks about its capacity). `project.rescheduled` once per
 * decision.
 */
export async function moveInstallation(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; at: string; actor: Actor; decisionId: string; note?: string },
): Promise<{ moved: boolean; from: string | null; to: string }> {
  return db.transaction().execute(async (trx) => {
    const crews = await lockedCrews(trx, input.tenantId);
    const project = await projectOfTenant(trx, input.tenantId, input.projectId, { forUpdate: true });
    const at = new Date(input.at);
    const from = project.installation_at?.toISOString() ?? null;
    if (from === at.toISOString()) return { moved: false, from, to: from };
    const preferred = [...crews].sort(
      (a, b) => Number(b.id === project.crew_id) - Number(a.id === project.crew_id),
    );
    let crewId = project.crew_id ?? preferred[0]?.id;
    for (const crew of preferred)
      if (await crewHasRoom(trx, crew, at, project.id)) {
        crewId = crew.id;
        break;
      }
    if (!crewId) throw new Error('the tenant has no active crew');
    await book(trx, project, crewId, at, project.installation_tentative);
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'project',
          type: 'project.rescheduled',
          actor: input.actor,
          payload: { from, to: at.toISOString(), note: input.note },
        },
        `rescheduled/${input.decisionId}`,
      ),
    );
    return { moved: true, from, to: at.toISOString() };
  });
}

export type JobReport =
  | { result: 'recorded' | 'already'; flowId: string }
  | { result: 'not_found' }
  | { result: 'refused'; why: string };

async function crewJob(
  trx: Kysely<Database>,
  input: { tenantId: string; projectKey: string; crewId: string | null },
): Promise<ProjectRow | undefined> {
  let query = trx
    .selectFrom('projects')
    .selectAll()
    .where('tenant_id', '=', input.tenantId)
    .where('project_key', '=', input.projectKey);
  // An installer's key sees its own crew's jobs only.
  if (input.crewId) query = query.where('crew_id', '=', input.crewId);
  return query.forUpdate().executeTakeFirst();
}

/** The crew starts the job: IN_PROGRESS, once the date is confirmed. */
export async function startInstallation(
  db: Kysely<Database>,
  input: { tenantId: string; projectKey: string; crewId: string | null; actor: Actor },
): Promise<JobReport> {
  return db.transaction().execute(async (trx) => {
    const project = await crewJob(trx, input);
    if (!project) return { result: 'not_found' };
    if (project.state === 'IN_PROGRESS') return { result: 'already', flowId: project.flow_id };
    if (project.state !== 'SCHEDULED' || project.installation_tentative)
      return {
        result: 'refused',
        why: `the job is ${project.state.toLowerCase()}, not confirmed for installation`,
      };
    await moveProject(trx, project, ['SCHEDULED'], 'IN_PROGRESS', {
      type: 'project.installation.started',
      actor: input.actor,
    });
    return { result: 'recorded', flowId: project.flow_id };
  });
}

/** The crew completes the job with its checklist and notes: DONE, and the selection INSTALLED. */
export async function completeInstallation(
  db: Kysely<Database>,
  input: {
    tenantId: string;
    projectKey: string;
    crewId: string | null;
    checklist: Record<string, boolean>;
    notes?: string;
    actor: Actor;
  },
): Promise<JobReport> {
  const report = await db.transaction().execute(async (trx): Promise<JobReport & { projectId?: string }> => {
    const project = await crewJob(trx, input);
    if (!project) return { result: 'not_found' };
    if (project.state === 'DONE' || project.state === 'CLOSED')
      return { result: 'already', flowId: project.flow_id };
    if (project.state !== 'IN_PROGRESS') return { result: 'refused', why: 'the job has not been started' };
    if (project.open_problem) return { result: 'refused', why: `a problem is open: ${project.open_problem}` };
    await moveProject(
      trx,
      project,
      ['IN_PROGRESS'],
      'DONE',
      { type: 'project.installation.completed', actor: input.actor, payload: { checklist: input.checklist } },
      { checklist: JSON.stringify(input.checklist), completion_notes: input.notes ?? null },
    );
    return { result: 'recorded', flowId: project.flow_id, projectId: project.id };
  });
  if (report.result === 'recorded' && report.projectId)
    await advanceSelection(db, {
      tenantId: input.tenantId,
      projectId: report.projectId,
      to: 'INSTALLED',
      actor: input.actor,
    });
  return report;
}

/** A problem at installation: the project needs a coordinator until it is solved. */
export async function reportProblem(
  db: Kysely<Database>,
  input: { tenantId: string; projectKey: string; crewId: string | null; description: string; actor: Actor },
): Promise<JobReport> {
  return db.transaction().execute(async (trx) => {
    const project = await crewJob(trx, input);
    if (!project) return { result: 'not_found' };
    if (project.state !== 'IN_PROGRESS' && project.state !== 'SCHEDULED')
      return { result: 'refused', why: `the job is ${project.state.toLowerCase()}` };
    const reported = await eventCount(trx, input.tenantId, project.project_key, 'project.problem.reported');
    await trx
      .updateTable('projects')
      .set({ open_problem: input.description, updated_at: sql`now()` })
      .where('id', '=', project.id)
      .execute();
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'project',
          type: 'project.problem.reported',
          actor: input.actor,
          payload: { description: input.description },
        },
        `problem/${reported + 1}`,
      ),
    );
    return { result: 'recorded', flowId: project.flow_id };
  });
}

/** A coordinator's word that the problem is solved (the crew goes on), once per decision. */
export async function solveProblem(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; actor: Actor; decisionId: string; note?: string },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId, { forUpdate: true });
    if (!project.open_problem) return;
    await trx.updateTable('projects').set({ open_problem: null }).where('id', '=', project.id).execute();
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'project',
          type: 'project.problem.solved',
          actor: input.actor,
          payload: { problem: project.open_problem, note: input.note },
        },
        `problem-solved/${input.decisionId}`,
      ),
    );
  });
}

/** The final invoice is paid: CLOSED. */
export async function closeProject(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; actor: Actor },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId, { forUpdate: true });
    await moveProject(trx, project, ['DONE'], 'CLOSED', { type: 'project.closed', actor: input.actor });
  });
}

/** Cancelled with its flow: CANCELLED, from any open state. */
export async function cancelProject(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; actor: Actor; reason?: string },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId, { forUpdate: true });
    return moveProject(trx, project, OPEN_STATES, 'CANCELLED', {
      type: 'project.cancelled',
      actor: input.actor,
      payload: { reason: input.reason },
    });
  });
}

export interface JobView {
  projectId: string;
  title: string;
  state: string;
  installationAt: string;
  confirmed: boolean;
  crewId: string;
  site: { street: string; postcode: string; city: string; country: string };
  customer: { name: string; phone?: string };
  openProblem: string | null;
}

/** Installation jobs from today on, soonest first: a crew's own, or (staff) every crew's. */
export async function listJobs(
  db: Kysely<Database>,
  input: { tenantId: string; crewId?: string | null },
): Promise<JobView[]> {
  let query = db
    .selectFrom('projects')
    .innerJoin('leads', 'leads.id', 'projects.lead_id')
    .select([
      'projects.project_key',
      'projects.title',
      'projects.state',
      'projects.installation_at',
      'projects.installation_tentative',
      'projects.crew_id',
      'projects.open_problem',
      'leads.site',
      'leads.customer',
    ])
    .where('projects.tenant_id', '=', input.tenantId)
    .where('projects.state', 'in', ['SCHEDULED', 'IN_PROGRESS'])
    .where('projects.installation_at', 'is not', null);
  if (input.crewId) query = query.where('projects.crew_id', '=', input.crewId);
  const rows = await query.orderBy('projects.installation_at').limit(200).execute();
  return rows.flatMap((row) =>
    row.installation_at && row.crew_id
      ? [
          {
            projectId: row.project_key,
            title: row.title,
            state: row.state,
            installationAt: row.installation_at.toISOString(),
            confirmed: !row.installation_tentative,
            crewId: row.crew_id,
            site: row.site,
            customer: { name: row.customer.name, phone: row.customer.phone },
            openProblem: row.open_problem,
          },
        ]
      : [],
  );
}
