import type { Kysely, Selectable } from 'kysely';
import type { Actor } from '../domain/flow.js';
import type { DomainEvent } from './events.js';
import type { Database, ProjectsTable } from './schema.js';

/** What the project services share: reading a project of a tenant, and the shape of its chain's events. */

export type ProjectRow = Selectable<ProjectsTable>;

export async function projectOfTenant(
  db: Kysely<Database>,
  tenantId: string,
  projectId: string,
  options: { forUpdate?: boolean } = {},
): Promise<ProjectRow> {
  let query = db
    .selectFrom('projects')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('id', '=', projectId);
  if (options.forUpdate) query = query.forUpdate();
  return query.executeTakeFirstOrThrow();
}

/**
 * An event about a project or its selection: on the project's flow and its trace, keyed by the project and
 * `key`, so it is recorded once.
 */
export function projectEvent(
  project: ProjectRow,
  event: {
    entity: 'project' | 'panel_selection';
    type: string;
    actor: Actor;
    payload: Record<string, unknown>;
  },
  key: string,
): DomainEvent {
  return {
    tenantId: project.tenant_id,
    type: event.type,
    actor: event.actor,
    entity: { type: event.entity, id: project.project_key },
    flowId: project.flow_id,
    traceId: project.flow_id,
    payload: event.payload,
    idempotencyKey: `${event.entity}/${project.id}/${key}`,
  };
}

/** How many events of `type` a project (or its selection, by the project's key) has: the next occurrence's number. */
export async function eventCount(
  db: Kysely<Database>,
  tenantId: string,
  projectKey: string,
  type: string,
): Promise<number> {
  const { count } = await db
    .selectFrom('domain_events')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('tenant_id', '=', tenantId)
    .where('entity_id', '=', projectKey)
    .where('type', '=', type)
    .executeTakeFirstOrThrow();
  return Number(count);
}
