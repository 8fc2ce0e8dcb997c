import { type Kysely, sql } from 'kysely';
import type { Actor } from '../domain/flow.js';
import { ProjectSettings } from '../domain/leadToInstall.schema.js';
import { appendEvent } from './events.js';
import type { Database } from './schema.js';

/**
 * What admins set up for projects: the tenant's project settings, its crews and its architects. Each change is
 * an audit event keyed by the server's request id.
 */

/** The tenant's project settings, with the defaults for whatever it has not set. */
export async function projectSettingsOf(db: Kysely<Database>, tenantId: string): Promise<ProjectSettings> {
  const tenant = await db
    .selectFrom('tenants')
    .select('settings')
    .where('id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return ProjectSettings.parse(tenant.settings.projects ?? {});
}

export async function saveProjectSettings(
  db: Kysely<Database>,
  input: { tenantId: string; settings: ProjectSettings; actor: Actor; requestId: string },
): Promise<ProjectSettings> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('tenants')
      .set({ settings: sql`jsonb_set(settings, '{projects}', ${JSON.stringify(input.settings)}::jsonb)` })
      .where('id', '=', input.tenantId)
      .execute();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'tenant.project_settings.saved',
      actor: input.actor,
      entity: { type: 'tenant', id: input.tenantId },
      payload: { settings: input.settings },
      idempotencyKey: `tenant/${input.tenantId}/project-settings/${input.requestId}`,
    });
  });
  return input.settings;
}

export interface CrewView {
  crewId: string;
  name: string;
  email: string;
  jobsPerDay: number;
  weeklyCapacity: number;
  active: boolean;
}

export async function listCrews(db: Kysely<Database>, tenantId: string): Promise<CrewView[]> {
  const rows = await db
    .selectFrom('crews')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('name')
    .execute();
  return rows.map((row) => ({
    crewId: row.id,
    name: row.name,
    email: row.email,
    jobsPerDay: row.jobs_per_day,
    weeklyCapacity: row.weekly_capacity,
    active: row.active,
  }));
}

/** Adds a crew, or changes the one of that name. */
export async function saveCrew(
  db: Kysely<Database>,
  input: Omit<CrewView, 'crewId'> & { tenantId: string; actor: Actor; requestId: string },
): Promise<CrewView> {
  return db.transaction().execute(async (trx) => {
    const values = {
      email: input.email,
      jobs_per_day: input.jobsPerDay,
      weekly_capacity: input.weeklyCapacity,
      active: input.active,
    };
    const row = await trx
      .insertInto('crews')
      .values({ tenant_id: input.tenantId, name: input.name, ...values })
      .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet(values))
      .returning('id')
      .executeTakeFirstOrThrow();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'crew.saved',
      actor: input.actor,
      entity: { type: 'crew', id: row.id },
      payload: { name: input.name, ...values },
      idempotencyKey: `crew/${row.id}/${input.requestId}`,
    });
    return {
      crewId: row.id,
      name: input.name,
      email: input.email,
      jobsPerDay: input.jobsPerDay,
      weeklyCapacity: input.weeklyCapacity,
      active: input.active,
    };
  });
}

export interface ArchitectView {
  architectId: string;
  name: string;
  email: string;
}

export async function listArchitects(db: Kysely<Database>, tenantId: string): Promise<ArchitectView[]> {
  const rows = await db
    .selectFrom('architects')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('name')
    .execute();
  return rows.map((row) => ({ architectId: row.id, name: row.name, email: row.email }));
}

/** Adds an architect, or renames the one with that email. */
export async function saveArchitect(
  db: Kysely<Database>,
  input: { tenantId: string; name: string; email: string; actor: Actor; requestId: string },
): Promise<ArchitectView> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('architects')
      .values({ tenant_id: input.tenantId, name: input.name, email: input.email })
      .onConflict((oc) => oc.columns(['tenant_id', 'email']).doUpdateSet({ name: input.name }))
      .returning('id')
      .executeTakeFirstOrThrow();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'architect.saved',
      actor: input.actor,
      entity: { type: 'architect', id: row.id },
      payload: { name: input.name, email: input.email },
      idempotencyKey: `architect/${row.id}/${input.requestId}`,
    });
    return { architectId: row.id, name: input.name, email: input.email };
  });
}
