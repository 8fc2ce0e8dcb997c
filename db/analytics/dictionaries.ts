import { sql } from 'kysely';
import type { Db } from '../client.js';

/**
 * The statuses and status groups of each source, as its CRM's API lists them (or as Flowdesk's own flows name
 * their steps). A status the CRM no longer lists is kept, marked inactive: the log still has its intervals.
 */

export interface DictionaryGroup {
  groupId: string;
  name: string;
  position: number;
}

export interface DictionaryStatus {
  statusId: string;
  name: string;
  alias: string | null;
  groupId: string;
  active: boolean;
  position: number;
}

export async function saveDictionary(
  db: Db,
  input: {
    tenantId: string;
    sourceId: string;
    groups: readonly DictionaryGroup[];
    statuses: readonly DictionaryStatus[];
    /** The whole dictionary (a CRM's list): statuses not in it become inactive. */
    complete: boolean;
  },
): Promise<void> {
  const scope = { tenant_id: input.tenantId, source_id: input.sourceId };
  await db.transaction().execute(async (trx) => {
    if (input.groups.length > 0)
      await trx
        .insertInto('status_groups')
        .values(
          input.groups.map((group) => ({
            ...scope,
            group_id: group.groupId,
            name: group.name,
            position: group.position,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['tenant_id', 'source_id', 'group_id']).doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'),
            position: eb.ref('excluded.position'),
          })),
        )
        .execute();
    if (input.statuses.length > 0)
      await trx
        .insertInto('source_statuses')
        .values(
          input.statuses.map((status) => ({
            ...scope,
            status_id: status.statusId,
            name: status.name,
            alias: status.alias,
            group_id: status.groupId,
            active: status.active,
            position: status.position,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['tenant_id', 'source_id', 'status_id']).doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'),
            alias: eb.ref('excluded.alias'),
            group_id: eb.ref('excluded.group_id'),
            active: eb.ref('excluded.active'),
            position: eb.ref('excluded.position'),
          })),
        )
        .execute();
    if (input.complete) {
      const listed = input.statuses.map((status) => status.statusId);
      await trx
        .updateTable('source_statuses')
        .set({ active: false })
        .where('tenant_id', '=', input.tenantId)
        .where('source_id', '=', input.sourceId)
        .where(sql<boolean>`not (status_id = any(${listed}::text[]))`)
        .execute();
      await trx
        .updateTable('status_sources')
        .set({ statuses_refreshed_at: sql`now()` })
        .where('id', '=', input.sourceId)
        .execute();
    }
  });
}

export interface DictionaryView {
  sourceId: string;
  groups: {
    groupId: string;
    name: string;
    statuses: { statusId: string; name: string; alias: string | null; active: boolean }[];
  }[];
}

export async function readDictionaries(
  db: Db,
  tenantId: string,
  sourceId?: string,
): Promise<DictionaryView[]> {
  let groupsQuery = db
    .selectFrom('status_groups')
    .select(['source_id', 'group_id', 'name'])
    .where('tenant_id', '=', tenantId)
    .orderBy('source_id')
    .orderBy('position')
    .orderBy('group_id');
  let statusesQuery = db
    .selectFrom('source_statuses')
    .select(['source_id', 'group_id', 'status_id', 'name', 'alias', 'active'])
    .where('tenant_id', '=', tenantId)
    .orderBy('position')
    .orderBy('status_id');
  if (sourceId) {
    groupsQuery = groupsQuery.where('source_id', '=', sourceId);
    statusesQuery = statusesQuery.where('source_id', '=', sourceId);
  }
  const [groups, statuses] = await Promise.all([groupsQuery.execute(), statusesQuery.execute()]);
  const bySource = new Map<string, DictionaryView>();
  const groupOf = new Map<string, DictionaryView['groups'][number]>();
  const sourceView = (id: string) => {
    const view = bySource.get(id) ?? { sourceId: id, groups: [] };
    bySource.set(id, view);
    return view;
  };
  for (const group of groups) {
    const view = { groupId: group.group_id, name: group.name, statuses: [] };
    sourceView(group.source_id).groups.push(view);
    groupOf.set(`${group.source_id}/${group.group_id}`, view);
  }
  for (const status of statuses) {
    let group = groupOf.get(`${status.source_id}/${status.group_id}`);
    if (!group) {
      // A status of a group the CRM did not name: listed under its id.
      group = { groupId: status.group_id, name: status.group_id, statuses: [] };
      sourceView(status.source_id).groups.push(group);
      groupOf.set(`${status.source_id}/${status.group_id}`, group);
    }
    group.statuses.push({
      statusId: status.status_id,
      name: status.name,
      alias: status.alias,
      active: status.active,
    });
  }
  return [...bySource.values()];
}
