import { type Kysely, sql } from 'kysely';

/**
 * A child flow's row names its parent and the flow at the top, so a problem is shown once, with what it is for.
 * A row keeps its steps: a parent's steps that a child does (its milestones) are written by the child's
 * publications, so the parent is read from PostgreSQL without being told of its children's progress.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('flows')
    .addColumn('parent_id', 'text')
    .addColumn('root_id', 'text')
    .addColumn('steps', 'jsonb')
    .execute();
  await sql`create index flows_parent on flows (parent_id) where parent_id is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index flows_parent`.execute(db);
  await db.schema
    .alterTable('flows')
    .dropColumn('parent_id')
    .dropColumn('root_id')
    .dropColumn('steps')
    .execute();
}
