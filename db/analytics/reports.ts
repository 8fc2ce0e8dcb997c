import { sql } from 'kysely';
import type { Db } from '../client.js';
import { type FigureScope, figureCtes, readingFigures } from './figures.js';

/** The answers of the analytics API, each one statement over the figures of db/analytics/figures.ts. */

export type SlaColour = 'ok' | 'near' | 'over';

export interface GroupTime {
  groupId: string;
  groupName: string | null;
  seconds: number;
  elapsedSeconds: number;
  stays: number;
  sla: SlaColour | null;
}

export interface CycleTime {
  code: string;
  name: string;
  startedAt: string;
  endedAt: string | null;
  seconds: number;
}

export interface OrderFigures {
  id: string;
  sourceId: string;
  externalId: string;
  urgent: boolean;
  urgentByOverride: boolean;
  itemsState: 'pending' | 'fetched' | 'failed' | 'own';
  firstSeenAt: string;
  status: {
    id: string;
    name: string | null;
    groupId: string;
    groupName: string | null;
    since: string;
  } | null;
  groups: GroupTime[];
  sla: SlaColour | null;
  cycles: CycleTime[];
}

export interface OrderFilter {
  urgent?: boolean;
  statusId?: string;
  groupId?: string;
  sla?: SlaColour;
  /** Keyset: orders first seen before this one (newest first). */
  after?: { firstSeenAt: string; id: string };
  limit: number;
}

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

const SLA_RANK = sql`case sla when 'over' then 3 when 'near' then 2 when 'ok' then 1 end`;
const SLA_OF_RANK = (rank: unknown) =>
  sql`case ${rank} when 3 then 'over' when 2 then 'near' when 1 then 'ok' end`;

export async function orderFigures(db: Db, scope: FigureScope, filter: OrderFilter): Promise<OrderFigures[]> {
  const { tenantId, sourceId } = scope;
  const conditions = [sql`true`];
  if (filter.urgent !== undefined) conditions.push(sql`ord.urgent = ${filter.urgent}`);
  if (filter.statusId) conditions.push(sql`cur.status_id = ${filter.statusId}`);
  if (filter.groupId) conditions.push(sql`cur.group_id = ${filter.groupId}`);
  if (filter.sla) conditions.push(sql`${SLA_OF_RANK(sql`g.worst`)} = ${filter.sla}`);
  if (filter.after)
    conditions.push(
      sql`(ord.first_seen_at, ord.analytics_id) < (${filter.after.firstSeenAt}::timestamptz, ${filter.after.id}::uuid)`,
    );
  const result = await readingFigures(db, (trx) =>
    sql<{
      id: string;
      external_id: string;
      urgent: boolean;
      urgent_by_override: boolean;
      items_state: OrderFigures['itemsState'];
      first_seen_at: Date;
      status_id: string | null;
      status_name: string | null;
      group_id: string | null;
      group_name: string | null;
      since: Date | null;
      groups: GroupTime[] | null;
      worst: number | null;
      cycles:
        | (Omit<CycleTime, 'startedAt' | 'endedAt'> & { startedAt: string; endedAt: string | null })[]
        | null;
    }>`
    with ${figureCtes(scope)},
    cur as (
      select distinct on (order_id) order_id, status_id, group_id, entered_at
      from ivl order by order_id, entered_at desc, id desc
    ),
    per_group as (
      select j.order_id, j.group_id, sum(j.seconds) as seconds, sum(j.elapsed_seconds) as elapsed_seconds,
        count(*) as stays, max(${SLA_RANK}) as worst, min(j.entered_at) as first_entered
      from judged j group by j.order_id, j.group_id
    ),
    g as (
      select p.order_id, max(p.worst) as worst,
        json_agg(json_build_object('groupId', p.group_id, 'groupName', sg.name, 'seconds', p.seconds,
          'elapsedSeconds', p.elapsed_seconds, 'stays', p.stays, 'sla', ${SLA_OF_RANK(sql`p.worst`)})
          order by p.first_entered) as groups
      from per_group p
      left join status_groups sg on sg.tenant_id = ${tenantId} and sg.source_id = ${sourceId}
        and sg.group_id = p.group_id
      group by p.order_id
    ),
    cy as (
      select order_id, json_agg(json_build_object('code', code, 'name', name, 'startedAt', started_at,
        'endedAt', ended_at, 'seconds', seconds) order by code) as cycles
      from cycles group by order_id
    )
    select ord.analytics_id as id, ord.order_id as external_id, ord.urgent, ord.urgent_by_override,
      ord.items_state, ord.first_seen_at, cur.status_id, st.name as status_name, cur.group_id,
      sg.name as group_name, cur.entered_at as since, g.groups, g.worst, cy.cycles
    from ord
    left join cur on cur.order_id = ord.order_id
    left join g on g.order_id = ord.order_id
    left join cy on cy.order_id = ord.order_id
    left join source_statuses st on st.tenant_id = ${tenantId} and st.source_id = ${sourceId}
      and st.status_id = cur.status_id
    left join status_groups sg on sg.tenant_id = ${tenantId} and sg.source_id = ${sourceId}
      and sg.group_id = cur.group_id
    where ${sql.join(conditions, sql` and `)}
    order by ord.first_seen_at desc, ord.analytics_id desc
    limit ${filter.limit}
  `.execute(trx),
  );
  return result.rows.map((row) => ({
    id: row.id,
    sourceId,
    externalId: row.external_id,
    urgent: row.urgent,
    urgentByOverride: row.urgent_by_override,
    itemsState: row.items_state,
    firstSeenAt: new Date(row.first_seen_at).toISOString(),
    status:
      row.status_id === null || row.group_id === null || row.since === null
        ? null
        : {
            id: row.status_id,
            name: row.status_name,
            groupId: row.group_id,
            groupName: row.group_name,
            since: new Date(row.since).toISOString(),
          },
    groups: row.groups ?? [],
    sla: row.worst === null ? null : ((['ok', 'near', 'over'] as const)[row.worst - 1] ?? null),
    cycles: (row.cycles ?? []).map((cycle) => ({
      ...cycle,
      startedAt: iso(cycle.startedAt) as string,
      endedAt: iso(cycle.endedAt),
    })),
  }));
}

export interface TimelineInterval {
  statusId: string;
  statusName: string | null;
  groupId: string;
  groupName: string | null;
  enteredAt: string;
  leftAt: string | null;
  seconds: number;
  elapsedSeconds: number;
}

export interface TimelineStay {
  groupId: string;
  groupName: string | null;
  enteredAt: string;
  leftAt: string | null;
  seconds: number;
  limitSeconds: number | null;
  sla: SlaColour | null;
}

/** One order's intervals and stays in time order, and its cycles. */
export async function orderTimeline(
  db: Db,
  scope: FigureScope & { orderIds: readonly [string] },
): Promise<{ intervals: TimelineInterval[]; stays: TimelineStay[]; cycles: CycleTime[] }> {
  const { tenantId, sourceId } = scope;
  const result = await readingFigures(db, (trx) =>
    sql<{
      intervals: TimelineInterval[] | null;
      stays: TimelineStay[] | null;
      cycles: CycleTime[] | null;
    }>`
    with ${figureCtes(scope)}
    select
      (select json_agg(json_build_object('statusId', i.status_id, 'statusName', st.name, 'groupId', i.group_id,
          'groupName', sg.name, 'enteredAt', i.entered_at, 'leftAt', i.left_at, 'seconds', i.seconds,
          'elapsedSeconds', i.elapsed_seconds) order by i.entered_at, i.id)
        from ivl i
        left join source_statuses st on st.tenant_id = ${tenantId} and st.source_id = ${sourceId}
          and st.status_id = i.status_id
        left join status_groups sg on sg.tenant_id = ${tenantId} and sg.source_id = ${sourceId}
          and sg.group_id = i.group_id) as intervals,
      (select json_agg(json_build_object('groupId', j.group_id, 'groupName', sg.name, 'enteredAt', j.entered_at,
          'leftAt', j.left_at, 'seconds', j.seconds, 'limitSeconds', j.limit_seconds, 'sla', j.sla)
          order by j.entered_at)
        from judged j
        left join status_groups sg on sg.tenant_id = ${tenantId} and sg.source_id = ${sourceId}
          and sg.group_id = j.group_id) as stays,
      (select json_agg(json_build_object('code', code, 'name', name, 'startedAt', started_at, 'endedAt', ended_at,
          'seconds', seconds) order by code) from cycles) as cycles
  `.execute(trx),
  );
  const row = result.rows[0];
  const times = <
    T extends { enteredAt?: string; leftAt?: string | null; startedAt?: string; endedAt?: string | null },
  >(
    item: T,
  ): T => ({
    ...item,
    ...(item.enteredAt !== undefined && { enteredAt: iso(item.enteredAt) }),
    ...(item.leftAt !== undefined && { leftAt: iso(item.leftAt) }),
    ...(item.startedAt !== undefined && { startedAt: iso(item.startedAt) }),
    ...(item.endedAt !== undefined && { endedAt: iso(item.endedAt) }),
  });
  return {
    intervals: (row?.intervals ?? []).map(times),
    stays: (row?.stays ?? []).map(times),
    cycles: (row?.cycles ?? []).map(times),
  };
}

export interface Stats {
  stays: number;
  closed: number;
  averageSeconds: number | null;
  medianSeconds: number | null;
  sla: {
    judged: number;
    ok: number;
    near: number;
    over: number;
    okPct: number | null;
    nearPct: number | null;
    overPct: number | null;
  };
}

export interface Kpis {
  orders: { all: number; normal: number; urgent: number };
  groups: { groupId: string; groupName: string | null; all: Stats; normal: Stats; urgent: Stats }[];
  cycles: {
    code: string;
    name: string;
    all: CycleStats;
    normal: CycleStats;
    urgent: CycleStats;
  }[];
  periods: { start: string; seconds: number; groups: { groupId: string; seconds: number }[] }[];
}

export interface CycleStats {
  started: number;
  completed: number;
  averageSeconds: number | null;
  medianSeconds: number | null;
}

export type Period = 'day' | 'week' | 'month';

/**
 * The KPIs of a source over [from, to): the orders with a stay begun in it; per group, the stays begun in it
 * (average and median of the closed ones; SLA colours of all, an open stay judged by its time so far); per cycle,
 * the cycles begun in it (average and median of the completed ones); and the time of the closed stays per period
 * they began in (in the source's time zone). Each split into normal and urgent orders; `urgent` narrows
 * everything to one of them.
 */
export async function kpis(
  db: Db,
  scope: FigureScope,
  window: { from: Date; to: Date; period: Period; urgent?: boolean },
): Promise<Kpis> {
  const { tenantId, sourceId } = scope;
  // Narrowed to the period's active orders only when the period is narrower than the log: over the whole log the
  // narrowing would cost more than it saves.
  const span = await db
    .selectFrom('status_events')
    .select((eb) => [eb.fn.min('status_changed_at').as('first'), eb.fn.max('status_changed_at').as('last')])
    .where('source_id', '=', sourceId)
    .executeTakeFirst();
  const narrower =
    !span?.first || !span.last || window.from > new Date(span.first) || window.to <= new Date(span.last);
  const from = sql`${window.from.toISOString()}::timestamptz`;
  const to = sql`${window.to.toISOString()}::timestamptz`;
  const urgency = window.urgent === undefined ? sql`true` : sql`urgent = ${window.urgent}`;
  const result = await readingFigures(db, (trx) =>
    sql<{ figures: RawKpis }>`
    with ${figureCtes(narrower ? { ...scope, activeIn: { from: window.from, to: window.to } } : scope)},
    k as (select * from judged where entered_at >= ${from} and entered_at < ${to} and ${urgency}),
    kc as (
      select c.*, ord.urgent from cycles c join ord on ord.order_id = c.order_id
      where c.started_at >= ${from} and c.started_at < ${to} and ${urgency}
    ),
    group_stats as (
      select group_id, case when grouping(urgent) = 1 then 'all' when urgent then 'urgent' else 'normal' end as split,
        count(*) as stays, count(left_at) as closed,
        avg(seconds) filter (where left_at is not null) as average,
        percentile_cont(0.5) within group (order by seconds) filter (where left_at is not null) as median,
        count(sla) as judged, count(*) filter (where sla = 'ok') as ok,
        count(*) filter (where sla = 'near') as near, count(*) filter (where sla = 'over') as over
      from k group by grouping sets ((group_id, urgent), (group_id))
    ),
    cycle_stats as (
      select code, name, case when grouping(urgent) = 1 then 'all' when urgent then 'urgent' else 'normal' end as split,
        count(*) as started, count(ended_at) as completed,
        avg(seconds) filter (where ended_at is not null) as average,
        percentile_cont(0.5) within group (order by seconds) filter (where ended_at is not null) as median
      from kc group by grouping sets ((code, name, urgent), (code, name))
    ),
    order_counts as (
      select case when grouping(urgent) = 1 then 'all' when urgent then 'urgent' else 'normal' end as split,
        count(*) as orders
      from (select order_id, bool_or(urgent) as urgent from k group by order_id) o
      group by grouping sets ((urgent), ())
    ),
    period_groups as (
      select date_trunc(${window.period}, entered_at at time zone (select timezone from src))
          at time zone (select timezone from src) as start, group_id, sum(seconds) as seconds
      from k where left_at is not null group by 1, 2
    )
    select json_build_object(
      'orders', (select json_object_agg(split, orders) from order_counts),
      'groups', (select json_agg(json_build_object('groupId', s.group_id, 'groupName', sg.name, 'split', s.split,
          'stays', s.stays, 'closed', s.closed, 'average', s.average, 'median', s.median, 'judged', s.judged,
          'ok', s.ok, 'near', s.near, 'over', s.over)) from group_stats s
          left join status_groups sg on sg.tenant_id = ${tenantId} and sg.source_id = ${sourceId}
            and sg.group_id = s.group_id),
      'cycles', (select json_agg(json_build_object('code', code, 'name', name, 'split', split, 'started', started,
          'completed', completed, 'average', average, 'median', median)) from cycle_stats),
      'periods', (select json_agg(json_build_object('start', start, 'groupId', group_id, 'seconds', seconds)
          order by start, group_id) from period_groups)
    ) as figures
  `.execute(trx),
  );
  return shapeKpis(result.rows[0]?.figures);
}

interface RawKpis {
  orders: Record<string, number> | null;
  groups:
    | {
        groupId: string;
        groupName: string | null;
        split: Split;
        stays: number;
        closed: number;
        average: number | null;
        median: number | null;
        judged: number;
        ok: number;
        near: number;
        over: number;
      }[]
    | null;
  cycles:
    | {
        code: string;
        name: string;
        split: Split;
        started: number;
        completed: number;
        average: number | null;
        median: number | null;
      }[]
    | null;
  periods: { start: string; groupId: string; seconds: number }[] | null;
}
type Split = 'all' | 'normal' | 'urgent';
const SPLITS: readonly Split[] = ['all', 'normal', 'urgent'];

const pct = (part: number, whole: number) => (whole === 0 ? null : Math.round((part / whole) * 1000) / 10);

function shapeKpis(raw: RawKpis | undefined): Kpis {
  const emptyStats = (): Stats => ({
    stays: 0,
    closed: 0,
    averageSeconds: null,
    medianSeconds: null,
    sla: { judged: 0, ok: 0, near: 0, over: 0, okPct: null, nearPct: null, overPct: null },
  });
  const groups = new Map<string, Kpis['groups'][number]>();
  for (const row of raw?.groups ?? []) {
    const group = groups.get(row.groupId) ?? {
      groupId: row.groupId,
      groupName: row.groupName,
      all: emptyStats(),
      normal: emptyStats(),
      urgent: emptyStats(),
    };
    group[row.split] = {
      stays: row.stays,
      closed: row.closed,
      averageSeconds: row.average,
      medianSeconds: row.median,
      sla: {
        judged: row.judged,
        ok: row.ok,
        near: row.near,
        over: row.over,
        okPct: pct(row.ok, row.judged),
        nearPct: pct(row.near, row.judged),
        overPct: pct(row.over, row.judged),
      },
    };
    groups.set(row.groupId, group);
  }
  const emptyCycle = (): CycleStats => ({
    started: 0,
    completed: 0,
    averageSeconds: null,
    medianSeconds: null,
  });
  const cycles = new Map<string, Kpis['cycles'][number]>();
  for (const row of raw?.cycles ?? []) {
    const cycle = cycles.get(row.code) ?? {
      code: row.code,
      name: row.name,
      all: emptyCycle(),
      normal: emptyCycle(),
      urgent: emptyCycle(),
    };
    cycle[row.split] = {
      started: row.started,
      completed: row.completed,
      averageSeconds: row.average,
      medianSeconds: row.median,
    };
    cycles.set(row.code, cycle);
  }
  const periods = new Map<string, Kpis['periods'][number]>();
  for (const row of raw?.periods ?? []) {
    const start = new Date(row.start).toISOString();
    const period = periods.get(start) ?? { start, seconds: 0, groups: [] };
    period.seconds += row.seconds;
    period.groups.push({ groupId: row.groupId, seconds: row.seconds });
    periods.set(start, period);
  }
  const orders = Object.fromEntries(
    SPLITS.map((split) => [split, raw?.orders?.[split] ?? 0]),
  ) as Kpis['orders'];
  return {
    orders,
    groups: [...groups.values()].sort((a, b) => a.groupId.localeCompare(b.groupId)),
    cycles: [...cycles.values()].sort((a, b) => a.code.localeCompare(b.code)),
    periods: [...periods.values()],
  };
}

export interface FlowdeskKpis {
  /** Installations completed in the period, and those done by their booked day. */
  onTimeDelivery: { completed: number; onTime: number; pct: number | null };
  /** Invoices that fell due in the period (by now), and those not paid by their due date. */
  invoiceOverdue: { due: number; overdue: number; pct: number | null };
  /** Configurations first locked in the period, and those never asked to change afterwards. */
  firstPassConfiguration: { locked: number; firstPass: number; pct: number | null };
}

/**
 * The KPIs of the tenant's own business that are not stage times (those, Lead → Lock, Lock → Scheduled and
 * Scheduled → Done, are the own source's cycles): on-time delivery, the invoice overdue rate, and first-pass
 * configuration acceptance, read from the business's own tables and audit events.
 */
export async function flowdeskKpis(
  db: Db,
  input: { tenantId: string; timezone: string; from: Date; to: Date },
): Promise<FlowdeskKpis> {
  const from = sql`${input.from.toISOString()}::timestamptz`;
  const to = sql`${input.to.toISOString()}::timestamptz`;
  const figures = await sql<{
    completed: number;
    on_time: number;
    due: number;
    overdue: number;
    locked: number;
    first_pass: number;
  }>`
    with installed as (
      select (e.occurred_at at time zone ${input.timezone})::date <= p.installation_day as on_time
      from domain_events e
      join projects p on p.tenant_id = e.tenant_id and p.project_key = e.entity_id
      where e.tenant_id = ${input.tenantId} and e.type = 'project.installation.completed'
        and e.occurred_at >= ${from} and e.occurred_at < ${to}
    ),
    fell_due as (
      select coalesce(paid_at, now()) > due_at as overdue
      from invoices
      where tenant_id = ${input.tenantId} and cancelled_at is null
        and due_at >= ${from} and due_at < least(${to}, now())
    ),
    locked as (
      select not exists (
        select 1 from selection_change_requests r
        join projects p on p.tenant_id = r.tenant_id and p.id = r.project_id
        where r.tenant_id = e.tenant_id and p.project_key = e.entity_id) as first_pass
      from domain_events e
      where e.tenant_id = ${input.tenantId} and e.type = 'panel.selection.locked'
        and (e.payload ->> 'version')::int = 1
        and e.occurred_at >= ${from} and e.occurred_at < ${to}
    )
    select
      (select count(*)::int from installed) as completed,
      (select count(*)::int from installed where on_time) as on_time,
      (select count(*)::int from fell_due) as due,
      (select count(*)::int from fell_due where overdue) as overdue,
      (select count(*)::int from locked) as locked,
      (select count(*)::int from locked where first_pass) as first_pass
  `.execute(db);
  const row = figures.rows[0] ?? { completed: 0, on_time: 0, due: 0, overdue: 0, locked: 0, first_pass: 0 };
  return {
    onTimeDelivery: { completed: row.completed, onTime: row.on_time, pct: pct(row.on_time, row.completed) },
    invoiceOverdue: { due: row.due, overdue: row.overdue, pct: pct(row.overdue, row.due) },
    firstPassConfiguration: {
      locked: row.locked,
      firstPass: row.first_pass,
      pct: pct(row.first_pass, row.locked),
    },
  };
}
