import { type RawBuilder, sql } from 'kysely';

/**
 * Every analytics figure, computed in PostgreSQL from the status log when asked, here and nowhere else.
 *
 * - An order's **intervals**: each status event opens one, the next event of the order (by time) closes it
 *   (window functions over `status_changed_at`); the last is open until now. A late event is placed by its
 *   time, and a status entered again later is a new interval, with no special case.
 * - **Stages**: consecutive intervals in the same status group are one stay in that group; leaving the group
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

export interface FigureScope {
  tenantId: string;
  sourceId: string;
  /** Analytics order ids; all of the source's orders when absent. */
  orderIds?: readonly string[];
  /** What "now" is for open intervals (tests pin it). */
  now: Date;
}

/** The working seconds between `entered_at` and `until` of rows of `relation` that carry `cal_key` and `tz`. */
function workingSeconds(relation: string): RawBuilder<number> {
  const r = sql.ref(relation);
  const at = (column: string) => sql`${sql.ref(`${relation}.${column}`)}`;
  const partOfDay = (cum: string, instant: RawBuilder<unknown>) =>
    sql`(select coalesce(sum(greatest(0, extract(epoch from least(${instant}, u.we) - u.ws))), 0)
         from unnest(${sql.ref(`${cum}.ws`)}, ${sql.ref(`${cum}.we`)}) as u (ws, we))`;
  return sql<number>`case when ${r}.cal_key is null
    then extract(epoch from ${at('until')} - ${at('entered_at')})
    else (select (c2.before + ${partOfDay('c2', at('until'))}) - (c1.before + ${partOfDay('c1', at('entered_at'))})
          from cum c1, cum c2
          where c1.cal_key = ${r}.cal_key and c1.day = (${at('entered_at')} at time zone ${r}.tz)::date
            and c2.cal_key = ${r}.cal_key and c2.day = (${at('until')} at time zone ${r}.tz)::date)
    end`;
}

/**
 * The common table expressions every figure reads: `ord` (orders with urgency and profile), `ivl` (status
 * intervals with group, elapsed and working seconds), `stays` (with SLA), `cycles` (per order and cycle).
 */
export function figureCtes(scope: FigureScope): RawBuilder<unknown> {
  const { tenantId, sourceId } = scope;
  const now = sql`${scope.now.toISOString()}::timestamptz`;
  const onlyOrders = scope.orderIds ? sql`and o.id = any(${scope.orderIds}::uuid[])` : sql``;
  return sql`
  src as (
    select near_fraction::float8 as near_fraction, timezone from status_sources
    where tenant_id = ${tenantId} and id = ${sourceId}
  ),
  ord as (
    select o.id as analytics_id, o.order_id, coalesce(o.sla_profile_override, 'default') as profile,
      o.cycle_overrides, o.first_seen_at, o.created_in_source_at, o.items_state,
      coalesce(o.urgent_override, exists (
        select 1 from jsonb_array_elements(coalesce(o.items, '[]'::jsonb)) i
        join urgent_rules r on r.tenant_id = o.tenant_id and r.source_id = o.source_id
          and r.value = case r.match when 'sku' then i ->> 'sku' when 'offer_id' then i ->> 'offerId'
                                     else i ->> 'productId' end)) as urgent,
      o.urgent_override is not null as urgent_by_override
    from analytics_orders o
    where o.tenant_id = ${tenantId} and o.source_id = ${sourceId} ${onlyOrders}
  ),
  cal as (
    select group_id, timezone, windows, holidays from work_calendars
    where tenant_id = ${tenantId} and source_id = ${sourceId}
  ),
  ev as (
    select e.id, e.order_id, e.status_id, coalesce(st.group_id, e.group_hint, '') as group_id,
      e.status_changed_at as entered_at,
      lead(e.status_changed_at) over (partition by e.order_id order by e.status_changed_at, e.id) as left_at
    from status_events e
    join ord on ord.order_id = e.order_id
    left join source_statuses st
      on st.tenant_id = e.tenant_id and st.source_id = e.source_id and st.status_id = e.status_id
    where e.tenant_id = ${tenantId} and e.source_id = ${sourceId}
  ),
  evc as (
    select ev.*, coalesce(ev.left_at, greatest(${now}, ev.entered_at)) as until,
      coalesce(gc.group_id, dc.group_id) as cal_key, coalesce(gc.timezone, dc.timezone) as tz
    from ev
    left join cal gc on gc.group_id = ev.group_id
    left join cal dc on dc.group_id = '*'
  ),
  span as (select min(entered_at) as lo, max(until) as hi from evc),
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
        sum(extract(epoch from b.we - b.ws)) as seconds
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
    select evc.id, evc.order_id, evc.status_id, evc.group_id, evc.entered_at, evc.left_at, evc.until,
      extract(epoch from evc.until - evc.entered_at)::float8 as elapsed_seconds,
      (${workingSeconds('evc')})::float8 as seconds,
      sum(case when evc.group_id is distinct from prev_group then 1 else 0 end)
        over (partition by evc.order_id order by evc.entered_at, evc.id) as stay_no
    from (select evc.*, lag(group_id) over (partition by order_id order by entered_at, id) as prev_group
          from evc) evc
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
  cycle_bounds as (
    select ord.analytics_id, ord.order_id, c.code, c.name,
      coalesce(ord.cycle_overrides -> c.code -> 'start' ->> 'kind', c.start_kind) as start_kind,
      coalesce(ord.cycle_overrides -> c.code -> 'start' ->> 'ref', c.start_ref) as start_ref,
      coalesce(ord.cycle_overrides -> c.code -> 'end' ->> 'kind', c.end_kind) as end_kind,
      coalesce(ord.cycle_overrides -> c.code -> 'end' ->> 'ref', c.end_ref) as end_ref
    from ord cross join status_cycles c
    where c.tenant_id = ${tenantId} and c.source_id = ${sourceId}
  ),
  cycle_starts as (
    select b.analytics_id, b.order_id, b.code, b.name, b.end_kind, b.end_ref, min(i.entered_at) as started_at
    from cycle_bounds b
    join ivl i on i.order_id = b.order_id
      and (case b.start_kind when 'group' then i.group_id else i.status_id end) = b.start_ref
    group by b.analytics_id, b.order_id, b.code, b.name, b.end_kind, b.end_ref
  ),
  cycle_ends as (
    select s.analytics_id, s.order_id, s.code, s.name, s.started_at, min(i.entered_at) as ended_at
    from cycle_starts s
    left join ivl i on i.order_id = s.order_id and i.entered_at >= s.started_at
      and (case s.end_kind when 'group' then i.group_id else i.status_id end) = s.end_ref
    group by s.analytics_id, s.order_id, s.code, s.name, s.started_at
  ),
  cycles as (
    select e.*, ce.until, ce.cal_key, ce.tz, (${workingSeconds('ce')})::float8 as seconds
    from cycle_ends e
    cross join lateral (
      select e.started_at as entered_at, coalesce(e.ended_at, greatest(${now}, e.started_at)) as until,
        (select group_id from cal where group_id = '*') as cal_key,
        (select timezone from cal where group_id = '*') as tz) ce
  )`;
}
