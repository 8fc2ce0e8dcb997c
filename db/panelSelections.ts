import { type Kysely, type Selectable, sql } from 'kysely';
import type { PricedLine } from '../domain/catalogue.schema.js';
import type { Actor } from '../domain/flow.js';
import type { SelectionState } from '../domain/leadToInstall.js';
import type { SelectionLine } from '../domain/leadToInstall.schema.js';
import { type LineProblem, pricedTotal, priceLines } from './catalogue.js';
import { appendEvent } from './events.js';
import { eventCount, projectEvent, projectOfTenant } from './projectEvents.js';
import type { Database, PanelSelectionsTable } from './schema.js';

/**
 * The customer's panel selection: the one place its versions are written. `DRAFT → LOCKED → PRODUCED →
 * DELIVERED → INSTALLED`; a draft is saved as the customer types, a lock prices it from the catalogue, and after
 * that a change is a request a coordinator approves (a new version) or rejects.
 */

export type SelectionRow = Selectable<PanelSelectionsTable>;

/** Drafts are noted in the audit trail at most this often: the page saves while the customer types. */
const DRAFT_NOTED_EVERY = '1 minute';

/** The version in force: the newest that is not superseded. */
export async function currentSelection(
  db: Kysely<Database>,
  projectId: string,
  options: { forUpdate?: boolean } = {},
): Promise<SelectionRow> {
  let query = db
    .selectFrom('panel_selections')
    .selectAll()
    .where('project_id', '=', projectId)
    .where('state', '!=', 'SUPERSEDED')
    .orderBy('version', 'desc')
    .limit(1);
  if (options.forUpdate) query = query.forUpdate();
  return query.executeTakeFirstOrThrow();
}

export type DraftSaved =
  | { result: 'saved'; selection: SelectionRow; priced: PricedLine[]; total: number }
  | { result: 'invalid'; problems: LineProblem[] }
  | { result: 'locked'; state: SelectionState };

/** Saves what the customer has chosen so far; `panel.selection.updated` at most once a minute. */
export async function saveDraft(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; lines: SelectionLine[]; actor: Actor },
): Promise<DraftSaved> {
  return db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId);
    const selection = await currentSelection(trx, project.id, { forUpdate: true });
    if (selection.state !== 'DRAFT') return { result: 'locked', state: selection.state as SelectionState };
    const { priced, problems } = await priceLines(trx, {
      tenantId: input.tenantId,
      currency: project.currency,
      lines: input.lines,
    });
    if (problems.length > 0) return { result: 'invalid', problems };
    const noted = await trx
      .updateTable('panel_selections')
      .set({
        lines: JSON.stringify(input.lines.filter((line) => line.quantity > 0)),
        total: pricedTotal(priced),
        saved_at: sql`now()`,
        updated_at: sql`now()`,
        noted_at: sql`case when noted_at is null or noted_at < now() - ${DRAFT_NOTED_EVERY}::interval
          then now() else noted_at end`,
      })
      .where('id', '=', selection.id)
      .returning([sql<boolean>`noted_at = now()`.as('noted')])
      .executeTakeFirstOrThrow();
    if (noted.noted) {
      const count = await eventCount(trx, input.tenantId, project.project_key, 'panel.selection.updated');
      await appendEvent(
        trx,
        projectEvent(
          project,
          {
            entity: 'panel_selection',
            type: 'panel.selection.updated',
            actor: input.actor,
            payload: { version: selection.version, lines: priced.length, total: pricedTotal(priced) },
          },
          `v${selection.version}/updated/${count + 1}`,
        ),
      );
    }
    const saved = await currentSelection(trx, project.id);
    return { result: 'saved', selection: saved, priced, total: pricedTotal(priced) };
  });
}

export type Locked =
  | { result: 'locked' | 'already'; selection: SelectionRow }
  | { result: 'invalid'; problems: LineProblem[] }
  | { result: 'empty' };

/**
 * Locks the draft with the catalogue's prices, producers and lead times as they are now
 * (`panel.selection.locked`, once). Locking again finds it locked.
 */
export async function lockSelection(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; actor: Actor },
): Promise<Locked> {
  return db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId);
    const selection = await currentSelection(trx, project.id, { forUpdate: true });
    if (selection.state !== 'DRAFT') return { result: 'already', selection };
    const { priced, problems } = await priceLines(trx, {
      tenantId: input.tenantId,
      currency: project.currency,
      lines: selection.lines as SelectionLine[],
    });
    if (problems.length > 0) return { result: 'invalid', problems };
    if (priced.length === 0) return { result: 'empty' };
    const locked = await trx
      .updateTable('panel_selections')
      .set({
        state: 'LOCKED',
        lines: JSON.stringify(priced),
        total: pricedTotal(priced),
        locked_at: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('id', '=', selection.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'panel_selection',
          type: 'panel.selection.locked',
          actor: input.actor,
          payload: { version: selection.version, lines: priced, total: pricedTotal(priced) },
        },
        `v${selection.version}/locked`,
      ),
    );
    return { result: 'locked', selection: locked };
  });
}

export type ChangeRequested =
  | { result: 'requested'; requestId: string }
  | { result: 'open_request'; requestId: string }
  | { result: 'not_open'; state: SelectionState }
  | { result: 'invalid'; problems: LineProblem[] };

/**
 * After the lock, and until the goods are delivered, a change is a request a coordinator decides
 * (`panel.selection.change.requested`); one is open at a time.
 */
export async function requestChange(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; lines: SelectionLine[]; reason: string; actor: Actor },
): Promise<ChangeRequested> {
  return db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId);
    const selection = await currentSelection(trx, project.id, { forUpdate: true });
    // Goods delivered are installed as they are: changes are for what is still on order.
    if (selection.state !== 'LOCKED' && selection.state !== 'PRODUCED')
      return { result: 'not_open', state: selection.state as SelectionState };
    const open = await trx
      .selectFrom('selection_change_requests')
      .select('id')
      .where('project_id', '=', project.id)
      .where('state', '=', 'REQUESTED')
      .executeTakeFirst();
    if (open) return { result: 'open_request', requestId: open.id };
    const { problems } = await priceLines(trx, {
      tenantId: input.tenantId,
      currency: project.currency,
      lines: input.lines,
    });
    if (problems.length > 0) return { result: 'invalid', problems };
    const request = await trx
      .insertInto('selection_change_requests')
      .values({
        tenant_id: input.tenantId,
        project_id: project.id,
        from_version: selection.version,
        lines: JSON.stringify(input.lines.filter((line) => line.quantity > 0)),
        reason: input.reason,
        state: 'REQUESTED',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'panel_selection',
          type: 'panel.selection.change.requested',
          actor: input.actor,
          payload: {
            requestId: request.id,
            fromVersion: selection.version,
            lines: input.lines,
            reason: input.reason,
          },
        },
        `change/${request.id}/requested`,
      ),
    );
    return { result: 'requested', requestId: request.id };
  });
}

export type ChangeDecided =
  | { result: 'approved'; selection: SelectionRow; previous: SelectionRow }
  | { result: 'rejected' }
  | { result: 'already'; state: string }
  | { result: 'invalid'; problems: LineProblem[] };

/**
 * A coordinator's word on a change request: approved, the locked version is SUPERSEDED by the next, locked with
 * the catalogue's prices now; rejected, the selection stays as it was. Deciding again changes nothing.
 */
export async function decideChange(
  db: Kysely<Database>,
  input: { tenantId: string; requestId: string; approve: boolean; actor: Actor; note?: string },
): Promise<ChangeDecided> {
  return db.transaction().execute(async (trx) => {
    const request = await trx
      .selectFrom('selection_change_requests')
      .selectAll()
      .where('tenant_id', '=', input.tenantId)
      .where('id', '=', input.requestId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    if (request.state !== 'REQUESTED') return { result: 'already', state: request.state };
    const project = await projectOfTenant(trx, input.tenantId, request.project_id);
    const decided = {
      decided_by: JSON.stringify(input.actor),
      decision_note: input.note ?? null,
      decided_at: sql<Date>`now()`,
    };
    if (!input.approve) {
      await trx
        .updateTable('selection_change_requests')
        .set({ state: 'REJECTED', ...decided })
        .where('id', '=', request.id)
        .execute();
      await appendEvent(
        trx,
        projectEvent(
          project,
          {
            entity: 'panel_selection',
            type: 'panel.selection.change.rejected',
            actor: input.actor,
            payload: { requestId: request.id, note: input.note },
          },
          `change/${request.id}/decided`,
        ),
      );
      return { result: 'rejected' };
    }
    const previous = await currentSelection(trx, project.id, { forUpdate: true });
    const { priced, problems } = await priceLines(trx, {
      tenantId: input.tenantId,
      currency: project.currency,
      lines: request.lines as SelectionLine[],
    });
    if (problems.length > 0) return { result: 'invalid', problems };
    await trx
      .updateTable('panel_selections')
      .set({ state: 'SUPERSEDED', updated_at: sql`now()` })
      .where('id', '=', previous.id)
      .execute();
    const next = await trx
      .insertInto('panel_selections')
      .values({
        tenant_id: input.tenantId,
        project_id: project.id,
        version: previous.version + 1,
        state: 'LOCKED',
        lines: JSON.stringify(priced),
        total: pricedTotal(priced),
        locked_at: sql`now()`,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx
      .updateTable('selection_change_requests')
      .set({ state: 'APPROVED', ...decided })
      .where('id', '=', request.id)
      .execute();
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'panel_selection',
          type: 'panel.selection.change.approved',
          actor: input.actor,
          payload: {
            requestId: request.id,
            version: next.version,
            lines: priced,
            total: pricedTotal(priced),
            note: input.note,
          },
        },
        `change/${request.id}/decided`,
      ),
    );
    return { result: 'approved', selection: next, previous };
  });
}

/** Moves the version in force along after the lock (produced, delivered, installed), once each. */
export async function advanceSelection(
  db: Kysely<Database>,
  input: { tenantId: string; projectId: string; to: 'PRODUCED' | 'DELIVERED' | 'INSTALLED'; actor: Actor },
): Promise<void> {
  const order = ['LOCKED', 'PRODUCED', 'DELIVERED', 'INSTALLED'];
  await db.transaction().execute(async (trx) => {
    const project = await projectOfTenant(trx, input.tenantId, input.projectId);
    const selection = await currentSelection(trx, project.id, { forUpdate: true });
    if (order.indexOf(selection.state) >= order.indexOf(input.to) || selection.state === 'DRAFT') return;
    await trx
      .updateTable('panel_selections')
      .set({ state: input.to, updated_at: sql`now()` })
      .where('id', '=', selection.id)
      .execute();
    await appendEvent(
      trx,
      projectEvent(
        project,
        {
          entity: 'panel_selection',
          type: `panel.selection.${input.to.toLowerCase()}`,
          actor: input.actor,
          payload: { version: selection.version },
        },
        `v${selection.version}/${input.to}`,
      ),
    );
  });
}
