import { type RawBuilder, sql } from 'kysely';
import { MAX_WINDOWS } from '../../domain/analytics.schema.js';
import type { Db } from '../client.js';

/**
 * Every analytics figure, computed in PostgreSQL from the status log when asked, here and nowhere else.
 *
 * - An order's **intervals**: each status event opens one, the next event of the order (by time) closes it
 *   (window functions over `status_changed_at`); the last is open until now. A late event is placed by its
 *   time, and a status entered again later is a new interval, with no special case.
 * - **Stays**: consecutive intervals in the same status group are one stay in that group; leaving the group
 *   and coming back is a new stay. SLA limits judge stays, and the KPIs' time per group is time per stay.
 * - **Working time**: a duration is its overlap with its group's calendar (the source's default `*` calendar
 *   when the group has none, 24/7 when neither exists). For speed it is a difference of running totals: a
 *   calendar's working seconds before each local day (days built once per query with `AT TIME ZONE`, so DST
 *   days are as long as they are), plus the part of the day's windows before the instant.
 * - **SLA**: a stay is `over` past its limit (the order's SLA profile's, urgent or normal), `near` from the
 *   source's near fraction of it, `ok` otherwise; with no limit it has none.
 * - **Urgency**: the order's override, else whether any item matches an urgent rule (SKU, offer id, product id).
 * - **Cycles**: from the first time an order enters the cycle's start (a group or a status) to the first time it
 *   enters its end afterwards, in the source's default calendar; open until then.
 */

/**
 * Runs a figures query in a read-only transaction tuned for it: sorts and hashes of a large source's log kept in
 * memory; hash joins only, since row estimates over the CTEs go badly wrong (a merge join on the calendar alone
 * filtered millions of day pairs; nested loops scanned a CTE per row); and no JIT, whose compiling of these large
 * statements (their estimated costs are high) took seconds of every run.
 */
export function readingFigures<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db
    .transaction()
    .setAccessMode('read only')
    .execute(async (trx) => {
      await sql`select set_config('work_mem', '128MB', true), set_config('enable_mergejoin', 'off', true),
        set_config('enable_nestloop', 'off', true), set_config('jit', 'off', true)`.execute(trx);
      return work(trx);
    });
}

export interface FigureScope {
  tenantId: string;
  sourceId: string;
  /** Analytics order ids; all of the source's orders when absent. */
  orderIds?: readonly string[];
  /** What "now" is for open intervals (tests pin it). */
  now: Date;
  /**
   * Only orders with an event in [from, to): all a period's KPIs need (they count what began in it), and much less
   * to compute than a whole source.
   */
  activeIn?: { from: Date; to: Date };
}

/**
 * The working seconds between `entered_at` and `until` of rows of `relation` that carry `cal_key` and `tz`, where
 * `c1` and `c2` are the `cum` rows of the local days of `entered_at` and `until` (joined by the caller).
 */
function workingSeconds(relation: string): RawBuilder<number> {
  const at = (column: string) => sql.ref(`${relation}.${column}`);
  // A day has at most MAX_WINDOWS windows (domain/analytics.schema.ts): the part of them before an instant is a
  // sum of as many terms, with no subquery per row; a missing window's bounds are null, and its term 0.
  const partOfDay = (cum: string, instant: RawBuilder<unknown>) =>
    sql.join(
      Array.from(
        { length: MAX_WINDOWS },
        (_, i) =>
          sql`coalesce(date_part('epoch', greatest(interval '0', least(${instant}, ${sql.ref(`${cum}.we`)}[${sql.lit(i + 1)}]) - ${sql.ref(`${cum}.ws`)}[${sql.lit(i + 1)}])), 0)`,
      ),
      sql` + `,
    );
  return sql<number>`case when ${at('cal_key')} is null
    then date_part('epoch', ${at('until')} - ${at('entered_at')})
    else (c2.before + ${partOfDay('c2', sql`${at('until')}`)}) - (c1.before + ${partOfDay('c1', sql`${at('entered_at')}`)})
    end`;
}

/** Joins `c1` and `c2`, the `cum` rows of the local days (`day_in`, `day_out`) a row of `relation` spans. */
function calendarDays(relation: string): RawBuilder<unknown> {
  const at = (column: string) => sql.ref(`${relation}.${column}`);
  return sql`left join cum c1 on c1.cal_key = ${at('cal_key')} and c1.day = ${at('day_in')}
    left join cum c2 on c2.cal_key = ${at('cal_key')} and c2.day = ${at('day_out')}`;
}

/**
 * The common table expressions every figure reads: `ord` (orders with urgency and profile), `ivl` (status
 * intervals with group, elapsed and working seconds), `stays` (with SLA), `cycles` (per order and cycle).
 */
export function figureCtes(scope: FigureScope): RawBuilder<unknown> {
  const { tenantId, sourceId } = scope;
  const now = sql`${scope.now.toISOString()}::timestamptz`;
  const onlyOrders = scope.orderIds ? sql`and o.id = any(${scope.orderIds}::uuid[])` : sql``;
  const active = scope.activeIn
    ? sql`and exists (select 1 from status_events a where a.source_id = o.source_id and a.order_id = o.order_id
        and a.status_changed_at >= ${scope.activeIn.from.toISOString()}::timestamptz
        and a.status_changed_at < ${scope.activeIn.to.toISOString()}::timestamptz)`
    : sql``;
  // A source's events all have their order (the intake writes both), so only a chosen few need the join.
  const onlyEvents =
    scope.orderIds || scope.activeIn ? sql`and e.order_id in (select order_id from ord)` : sql``;
  return sql`
  src as (
    select near_fraction::float8 as near_fraction, timezone from status_sources
    where tenant_id = ${tenantId} and id = ${sourceId}
  ),
  urgent_patterns as materialized (
    select coalesce(array_agg(jsonb_build_array(jsonb_build_object(
      case match when 'sku' then 'sku' when 'offer_id' then 'offerId' else 'productId' end, value))), '{}') as any_of
    from urgent_rules where tenant_id = ${tenantId} and source_id = ${sourceId}
  ),
  ord as (
    select o.id as analytics_id, o.order_id, coalesce(o.sla_profile_override, 'default') as profile,
      o.cycle_overrides, o.first_seen_at, o.created_in_source_at, o.items_state,
      coalesce(o.urgent_override, coalesce(o.items, '[]'::jsonb) @> any(p.any_of)) as urgent,
      o.urgent_override is not null as urgent_by_override
    from analytics_orders o cross join urgent_patterns p
    where o.tenant_id = ${tenantId} and o.source_id = ${sourceId} ${onlyOrders} ${active}
  ),
  cal as (
    select group_id, timezone, windows, holidays from work_calendars
    where tenant_id = ${tenantId} and source_id = ${sourceId}
  ),
  ev as (
    select e.id, e.order_id, e.status_id, g.group_id, e.status_changed_at as entered_at,
      lead(e.status_changed_at) over w as left_at,
      case when g.group_id is distinct from lag(g.group_id) over w then 1 else 0 end as new_stay,
      coalesce(gc.group_id, (select group_id from cal where group_id = '*')) as cal_key,
      coalesce(gc.timezone, (select timezone from cal where group_id = '*')) as tz
    from status_events e
    left join source_statuses st
      on st.tenant_id = e.tenant_id and st.source_id = e.source_id and st.status_id = e.status_id
    cross join lateral (select coalesce(st.group_id, e.group_hint, '') as group_id) g
    left join cal gc on gc.group_id = g.group_id
    where e.tenant_id = ${tenantId} and e.source_id = ${sourceId} ${onlyEvents}
    -- Bytewise order: the database's collation would compare a million ids char by char.
    window w as (partition by e.order_id collate "C" order by e.status_changed_at, e.id)
  ),
  evc as (
    select ev.*, until, (ev.entered_at at time zone ev.tz)::date as day_in, (until at time zone ev.tz)::date as day_out,
      sum(ev.new_stay) over (partition by ev.order_id collate "C" order by ev.entered_at, ev.id) as stay_no
    from ev cross join lateral (select coalesce(ev.left_at, greatest(${now}, ev.entered_at)) as until) u
  ),
  span as materialized (select min(entered_at) as lo, max(until) as hi from evc),
  days as (
    select c.group_id as cal_key, d::date as day, coalesce(w.ws, '{}') as ws, coalesce(w.we, '{}') as we,
      coalesce(w.seconds, 0) as seconds
    from cal c
    cross join span
    cross join lateral generate_series(
      ((coalesce(span.lo, ${now}) at time zone c.timezone)::date - 1)::timestamp,
      ((coalesce(span.hi, ${now}) at time zone c.timezone)::date + 1)::timestamp,
      interval '1 day') d
    left join lateral (
      select array_agg(b.ws order by b.ws) as ws, array_agg(b.we order by b.ws) as we,
        sum(date_part('epoch', b.we - b.ws)) as seconds
      from jsonb_array_elements(c.windows -> to_char(d, 'dy')) x
      cross join lateral (
        select (d::date + (x ->> 0)::time) at time zone c.timezone as ws,
               (d::date + (x ->> 1)::time) at time zone c.timezone as we) b
      where not (d::date = any(c.holidays))
    ) w on true
  ),
  cum as (
    select days.*, coalesce(sum(seconds) over (partition by cal_key order by day
      rows between unbounded preceding and 1 preceding), 0) as before
    from days
  ),
  ivl as (
    select evc.id, evc.order_id, evc.status_id, evc.group_id, evc.entered_at, evc.left_at, evc.until, evc.stay_no,
      date_part('epoch', evc.until - evc.entered_at)::float8 as elapsed_seconds,
      (${workingSeconds('evc')})::float8 as seconds
    from evc
    ${calendarDays('evc')}
  ),
  stays_raw as (
    select order_id, group_id, stay_no, min(entered_at) as entered_at,
      nullif(max(coalesce(left_at, 'infinity')), 'infinity') as left_at,
      sum(seconds) as seconds, sum(elapsed_seconds) as elapsed_seconds
    from ivl group by order_id, group_id, stay_no
  ),
  stays as (
    select s.*, ord.analytics_id, ord.urgent,
      (case when ord.urgent then coalesce(l.urgent_minutes, l.normal_minutes) else l.normal_minutes end) * 60
        as limit_seconds
    from stays_raw s
    join ord on ord.order_id = s.order_id
    left join sla_limits l on l.tenant_id = ${tenantId} and l.source_id = ${sourceId}
      and l.profile = ord.profile and l.group_id = s.group_id
  ),
  judged as (
    select stays.*, case
        when limit_seconds is null then null
        when seconds > limit_seconds then 'over'
        when seconds >= limit_seconds * (select near_fraction from src) then 'near'
        else 'ok' end as sla
    from stays
  ),
  overridden as (
    select order_id, cycle_overrides from ord where cycle_overrides <> '{}'::jsonb
  ),
  cycle_hits as (
    select i.order_id, c.code, c.name,
      min(i.entered_at) filter (where (case coalesce(o.cycle_overrides -> c.code -> 'start' ->> 'kind', c.start_kind)
        when 'group' then i.group_id else i.status_id end)
        = coalesce(o.cycle_overrides -> c.code -> 'start' ->> 'ref', c.start_ref)) as started_at,
      array_agg(i.entered_at) filter (where (case coalesce(o.cycle_overrides -> c.code -> 'end' ->> 'kind', c.end_kind)
        when 'group' then i.group_id else i.status_id end)
        = coalesce(o.cycle_overrides -> c.code -> 'end' ->> 'ref', c.end_ref)) as ends
    from ivl i
    cross join status_cycles c
    left join overridden o on o.order_id = i.order_id
    where c.tenant_id = ${tenantId} and c.source_id = ${sourceId}
    group by i.order_id, c.code, c.name
  ),
  cycle_ends as (
    select h.order_id, h.code, h.name, h.started_at,
      (select min(e) from unnest(h.ends) e where e >= h.started_at) as ended_at
    from cycle_hits h where h.started_at is not null
  ),
  cycle_spans as (
    select e.*, e.started_at as entered_at, u.until, dc.group_id as cal_key, dc.timezone as tz,
      (e.started_at at time zone dc.timezone)::date as day_in, (u.until at time zone dc.timezone)::date as day_out
    from cycle_ends e
    cross join lateral (select coalesce(e.ended_at, greatest(${now}, e.started_at)) as until) u
    left join cal dc on dc.group_id = '*'
  ),
  cycles as (
    select ce.order_id, ce.code, ce.name, ce.started_at, ce.ended_at,
      (${workingSeconds('ce')})::float8 as seconds
    from cycle_spans ce
    ${calendarDays('ce')}
  )`;
}
