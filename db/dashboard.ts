import { sql } from 'kysely';
import { kpis } from './analytics/reports.js';
import { flowdeskSourceId } from './analytics/sources.js';
import type { Db } from './client.js';

/**
 * The dashboard's figures of a tenant over the last 30 days, in the time zone of its own flows' status source:
 * flows started, completed and needing attention per day; how often each flow type ends well; the time each step
 * takes and how its stays stand against their SLA (from the status log, as `GET /v1/analytics/kpis`); unapplied
 * payments. Computing them takes seconds over a large log, so they are kept as a snapshot per tenant, computed
 * again when a view finds it older than `DASHBOARD_MAX_AGE_MS`, by one process at a time.
 */
export const DASHBOARD_DAYS = 30;
export const DASHBOARD_MAX_AGE_MS = 60_000;

export interface DashboardFigures {
  timezone: string;
  days: { day: string; started: number; completed: number; attention: number }[];
  outcomes: { flowType: string; ended: number; completed: number; rate: number | null }[];
  stages: { stage: string; averageSeconds: number | null; ok: number; near: number; over: number }[];
  sla: { ok: number; near: number; over: number };
  unapplied: { currency: string; count: number; amount: number }[];
}

export async function computeDashboard(db: Db, tenantId: string, now: Date): Promise<DashboardFigures> {
  const sourceId = await flowdeskSourceId(db, tenantId);
  const source = await db
    .selectFrom('status_sources')
    .select('timezone')
    .where('id', '=', sourceId)
    .executeTakeFirstOrThrow();
  const tz = source.timezone;
  const from = new Date(now.getTime() - DASHBOARD_DAYS * 86_400_000);
  const since = sql`${from.toISOString()}::timestamptz`;
  const [days, outcomes, figures, unapplied] = await Promise.all([
    sql<{ day: string; started: number; completed: number; attention: number }>`
      with days as (
        select generate_series((${since} at time zone ${tz})::date, (${now.toISOString()}::timestamptz at time zone ${tz})::date, interval '1 day')::date as day
      ),
      started as (
        select (started_at at time zone ${tz})::date as day, count(*)::int as n
        from flows where tenant_id = ${tenantId} and started_at >= ${since} group by 1
      ),
      completed as (
        select (ended_at at time zone ${tz})::date as day, count(*)::int as n
        from flows where tenant_id = ${tenantId} and state = 'completed' and ended_at >= ${since} group by 1
      ),
      attention as (
        select (occurred_at at time zone ${tz})::date as day, count(distinct flow_id)::int as n
        from domain_events
        where tenant_id = ${tenantId} and type = 'flow.needs_attention' and occurred_at >= ${since} group by 1
      )
      select to_char(days.day, 'YYYY-MM-DD') as day, coalesce(s.n, 0) as started,
        coalesce(c.n, 0) as completed, coalesce(a.n, 0) as attention
      from days left join started s using (day) left join completed c using (day) left join attention a using (day)
      order by days.day`.execute(db),
    db
      .selectFrom('flows')
      .select(['flow_type', sql<number>`count(*)::int`.as('ended')])
      .select(sql<number>`(count(*) filter (where state = 'completed'))::int`.as('completed'))
      .where('tenant_id', '=', tenantId)
      .where('ended_at', '>=', from)
      .groupBy('flow_type')
      .orderBy('flow_type')
      .execute(),
    kpis(db, { tenantId, sourceId, now }, { from, to: now, period: 'day' }),
    db
      .selectFrom('payments')
      .select(['currency', sql<number>`count(*)::int`.as('count'), sql<string>`sum(amount)`.as('amount')])
      .where('tenant_id', '=', tenantId)
      .where('state', '=', 'unapplied')
      .groupBy('currency')
      .orderBy('currency')
      .execute(),
  ]);
  const stages = figures.groups
    .filter((group) => !group.groupId.endsWith(':between'))
    .map((group) => ({
      stage: group.groupName ? `${group.groupId.split(':')[0]}: ${group.groupName}` : group.groupId,
      averageSeconds: group.all.averageSeconds,
      ok: group.all.sla.ok,
      near: group.all.sla.near,
      over: group.all.sla.over,
    }))
    .sort((a, b) => (b.averageSeconds ?? 0) - (a.averageSeconds ?? 0));
  return {
    timezone: tz,
    days: days.rows,
    outcomes: outcomes.map((row) => ({
      flowType: row.flow_type,
      ended: row.ended,
      completed: row.completed,
      rate: row.ended > 0 ? row.completed / row.ended : null,
    })),
    stages,
    sla: {
      ok: stages.reduce((sum, stage) => sum + stage.ok, 0),
      near: stages.reduce((sum, stage) => sum + stage.near, 0),
      over: stages.reduce((sum, stage) => sum + stage.over, 0),
    },
    unapplied: unapplied.map((row) => ({
      currency: row.currency,
      count: row.count,
      amount: Number(row.amount),
    })),
  };
}

/** Tenants whose figures this process is computing now. */
const computing = new Set<string>();

/**
 * The tenant's dashboard as last computed (nothing the first time), and, when there is none or it is older than
 * `maxAgeMs`, its computing started in the background, so no page view waits for it. One process computes a
 * tenant's at a time: it claims the row first (a claim left by a process that died lapses after five minutes).
 */
export async function dashboardSnapshot(
  db: Db,
  tenantId: string,
  options: { now?: Date; maxAgeMs?: number; onError: (error: unknown) => void },
): Promise<{ computedAt: Date; figures: DashboardFigures } | undefined> {
  const now = options.now ?? new Date();
  const row = await db
    .selectFrom('dashboard_snapshots')
    .select(['computed_at', 'figures'])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  const current =
    row?.computed_at && row.figures
      ? { computedAt: row.computed_at, figures: row.figures as unknown as DashboardFigures }
      : undefined;
  const stale =
    !current || now.getTime() - current.computedAt.getTime() >= (options.maxAgeMs ?? DASHBOARD_MAX_AGE_MS);
  if (stale && !computing.has(tenantId)) {
    computing.add(tenantId);
    void refreshDashboard(db, tenantId, now)
      .catch(options.onError)
      .finally(() => computing.delete(tenantId));
  }
  return current;
}

async function refreshDashboard(db: Db, tenantId: string, now: Date): Promise<void> {
  const claimed = await sql<{ tenant_id: string }>`
    insert into dashboard_snapshots (tenant_id, claimed_at) values (${tenantId}, now())
    on conflict (tenant_id) do update set claimed_at = now()
      where dashboard_snapshots.claimed_at is null or dashboard_snapshots.claimed_at < now() - interval '5 minutes'
    returning tenant_id`.execute(db);
  if (claimed.rows.length === 0) return;
  try {
    const figures = await computeDashboard(db, tenantId, now);
    await db
      .updateTable('dashboard_snapshots')
      .set({ computed_at: now, figures: JSON.stringify(figures), claimed_at: null })
      .where('tenant_id', '=', tenantId)
      .execute();
  } catch (error) {
    await db
      .updateTable('dashboard_snapshots')
      .set({ claimed_at: null })
      .where('tenant_id', '=', tenantId)
      .execute();
    throw error;
  }
}
