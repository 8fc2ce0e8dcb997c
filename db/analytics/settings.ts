import { type Insertable, sql } from 'kysely';
import {
  type CycleSettings,
  type OrderOverride,
  type SlaSettings,
  type UrgentRuleSettings,
  WEEKDAYS,
  type WorkingHoursSettings,
} from '../../domain/analytics.schema.js';
import type { Actor } from '../../domain/flow.js';
import type { Db } from '../client.js';
import { appendEvent } from '../events.js';
import type { Database } from '../schema.js';
import { notify } from './statusLog.js';

/**
 * The settings analytics figures are computed with, per source: working-hours calendars, SLA grids, cycles and
 * urgent rules, and per-order overrides. The one place they are written: each save replaces that part whole,
 * records who changed it from what to what, and tells every stream its figures are stale (`invalidate`); nothing
 * computed is stored, so nothing else needs recomputing.
 */

interface Change {
  tenantId: string;
  sourceId: string;
  actor: Actor;
  requestId: string;
}

const minutesOf = (limit: string | null) => {
  if (limit === null) return null;
  const [hours, minutes] = limit.split(':').map(Number);
  return (hours ?? 0) * 60 + (minutes ?? 0);
};
const limitOf = (minutes: number | null) =>
  minutes === null ? null : `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, '0')}`;

export async function readWorkingHours(
  db: Db,
  tenantId: string,
  sourceId: string,
): Promise<WorkingHoursSettings> {
  const rows = await db
    .selectFrom('work_calendars')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('source_id', '=', sourceId)
    .orderBy('group_id')
    .execute();
  return {
    calendars: rows.map((row) => ({
      groupId: row.group_id,
      timezone: row.timezone,
      week: Object.fromEntries(
        WEEKDAYS.map((day) => [day, row.windows[day] ?? []]),
      ) as WorkingHoursSettings['calendars'][number]['week'],
      holidays: row.holidays.map((day) =>
        typeof day === 'string' ? day : new Date(day).toISOString().slice(0, 10),
      ),
    })),
  };
}

export async function readSla(db: Db, tenantId: string, sourceId: string): Promise<SlaSettings> {
  const [source, rows] = await Promise.all([
    db
      .selectFrom('status_sources')
      .select('near_fraction')
      .where('tenant_id', '=', tenantId)
      .where('id', '=', sourceId)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('sla_limits')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('source_id', '=', sourceId)
      .orderBy('profile')
      .orderBy('group_id')
      .execute(),
  ]);
  const profiles = new Map<string, SlaSettings['profiles'][number]>();
  for (const row of rows) {
    const profile = profiles.get(row.profile) ?? { profile: row.profile, limits: [] };
    profile.limits.push({
      groupId: row.group_id,
      normal: limitOf(row.normal_minutes),
      urgent: limitOf(row.urgent_minutes),
    });
    profiles.set(row.profile, profile);
  }
  return { nearFraction: Number(source.near_fraction), profiles: [...profiles.values()] };
}

export async function readCycles(db: Db, tenantId: string, sourceId: string): Promise<CycleSettings> {
  const rows = await db
    .selectFrom('status_cycles')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('source_id', '=', sourceId)
    .orderBy('code')
    .execute();
  return {
    cycles: rows.map((row) => ({
      code: row.code,
      name: row.name,
      start: { kind: row.start_kind, ref: row.start_ref },
      end: { kind: row.end_kind, ref: row.end_ref },
    })),
  };
}

export async function readUrgentRules(
  db: Db,
  tenantId: string,
  sourceId: string,
): Promise<UrgentRuleSettings> {
  const rows = await db
    .selectFrom('urgent_rules')
    .select(['match', 'value'])
    .where('tenant_id', '=', tenantId)
    .where('source_id', '=', sourceId)
    .orderBy('match')
    .orderBy('value')
    .execute();
  return { rules: rows };
}

export const SETTINGS_PARTS = ['working-hours', 'sla', 'cycles', 'urgent-rules'] as const;
export type SettingsPart = (typeof SETTINGS_PARTS)[number];

/** Replaces one part of a source's settings, audited, and tells the streams. */
async function replacePart<T extends object>(
  db: Db,
  change: Change,
  part: SettingsPart,
  read: (db: Db, tenantId: string, sourceId: string) => Promise<T>,
  write: (trx: Db) => Promise<void>,
): Promise<T> {
  return db.transaction().execute(async (trx) => {
    // One writer per source's settings at a time, so each audit event's "before" is what the change replaced.
    await sql`select 1 from status_sources where id = ${change.sourceId} for update`.execute(trx);
    const before = await read(trx, change.tenantId, change.sourceId);
    await write(trx);
    const after = await read(trx, change.tenantId, change.sourceId);
    await appendEvent(trx, {
      tenantId: change.tenantId,
      type: 'analytics.settings.changed',
      actor: change.actor,
      entity: { type: 'status_source', id: change.sourceId },
      payload: { part, before, after },
      idempotencyKey: `analytics-settings/${change.sourceId}/${part}/${change.requestId}`,
    });
    await notify(trx, {
      kind: 'invalidate',
      tenantId: change.tenantId,
      sourceId: change.sourceId,
      reason: `${part} changed`,
    });
    return after;
  });
}

const inSource = (change: Change) => ({ tenant_id: change.tenantId, source_id: change.sourceId });

type SettingsTable = 'work_calendars' | 'sla_limits' | 'status_cycles' | 'urgent_rules';

/** Replaces a source's rows of one settings table with `rows`. */
async function replaceRows<T extends SettingsTable>(
  trx: Db,
  table: T,
  change: Change,
  rows: Insertable<Database[T]>[],
): Promise<void> {
  await sql`delete from ${sql.table(table)} where tenant_id = ${change.tenantId} and source_id = ${change.sourceId}`.execute(
    trx,
  );
  if (rows.length > 0)
    await trx
      .insertInto(table)
      .values(rows as never)
      .execute();
}

export function saveWorkingHours(db: Db, change: Change, settings: WorkingHoursSettings) {
  return replacePart(db, change, 'working-hours', readWorkingHours, async (trx) => {
    await replaceRows(
      trx,
      'work_calendars',
      change,
      settings.calendars.map((calendar) => ({
        ...inSource(change),
        group_id: calendar.groupId,
        timezone: calendar.timezone,
        windows: JSON.stringify(calendar.week),
        holidays: calendar.holidays,
      })),
    );
  });
}

export function saveSla(db: Db, change: Change, settings: SlaSettings) {
  return replacePart(db, change, 'sla', readSla, async (trx) => {
    await trx
      .updateTable('status_sources')
      .set({ near_fraction: settings.nearFraction, updated_at: sql`now()` })
      .where('tenant_id', '=', change.tenantId)
      .where('id', '=', change.sourceId)
      .execute();
    await replaceRows(
      trx,
      'sla_limits',
      change,
      settings.profiles.flatMap((profile) =>
        profile.limits.map((limit) => ({
          ...inSource(change),
          profile: profile.profile,
          group_id: limit.groupId,
          normal_minutes: minutesOf(limit.normal),
          urgent_minutes: minutesOf(limit.urgent),
        })),
      ),
    );
  });
}

export function saveCycles(db: Db, change: Change, settings: CycleSettings) {
  return replacePart(db, change, 'cycles', readCycles, async (trx) => {
    await replaceRows(
      trx,
      'status_cycles',
      change,
      settings.cycles.map((cycle) => ({
        ...inSource(change),
        code: cycle.code,
        name: cycle.name,
        start_kind: cycle.start.kind,
        start_ref: cycle.start.ref,
        end_kind: cycle.end.kind,
        end_ref: cycle.end.ref,
      })),
    );
  });
}

export function saveUrgentRules(db: Db, change: Change, settings: UrgentRuleSettings) {
  return replacePart(db, change, 'urgent-rules', readUrgentRules, async (trx) => {
    await replaceRows(
      trx,
      'urgent_rules',
      change,
      settings.rules.map((rule) => ({ ...inSource(change), match: rule.match, value: rule.value })),
    );
  });
}

/** Sets an order's overrides; undefined when the source has no such order. */
export async function saveOrderOverride(
  db: Db,
  change: Change & { orderId: string },
  override: OrderOverride,
): Promise<OrderOverride | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('analytics_orders')
      .set({
        urgent_override: override.urgent,
        sla_profile_override: override.slaProfile,
        cycle_overrides: JSON.stringify(override.cycles),
        updated_at: sql`now()`,
      })
      .where('tenant_id', '=', change.tenantId)
      .where('source_id', '=', change.sourceId)
      .where('id', '=', change.orderId)
      .returning(['order_id'])
      .executeTakeFirst();
    if (!row) return undefined;
    await appendEvent(trx, {
      tenantId: change.tenantId,
      type: 'analytics.order.overridden',
      actor: change.actor,
      entity: { type: 'analytics_order', id: change.orderId },
      payload: { sourceId: change.sourceId, externalOrderId: row.order_id, ...override },
      idempotencyKey: `analytics-override/${change.orderId}/${change.requestId}`,
    });
    await notify(trx, {
      kind: 'invalidate',
      tenantId: change.tenantId,
      sourceId: change.sourceId,
      reason: `order ${row.order_id} overridden`,
    });
    return override;
  });
}

export async function readOrderOverride(
  db: Db,
  tenantId: string,
  orderId: string,
): Promise<(OrderOverride & { sourceId: string }) | undefined> {
  const row = await db
    .selectFrom('analytics_orders')
    .select(['source_id', 'urgent_override', 'sla_profile_override', 'cycle_overrides'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', orderId)
    .executeTakeFirst();
  return (
    row && {
      sourceId: row.source_id,
      urgent: row.urgent_override,
      slaProfile: row.sla_profile_override,
      cycles: row.cycle_overrides as OrderOverride['cycles'],
    }
  );
}
