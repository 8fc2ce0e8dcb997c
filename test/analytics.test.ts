import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrmSync } from '../integrations/crm/crmSync.js';
import { crmThrottle } from '../integrations/crm/throttle.js';
import { createLogger } from '../runtime/logger.js';
import { type CrmSimulator, startCrmSimulator } from '../scripts/simulators/crm.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';

const TOKEN = 'keycrm-token-for-tests';
const HOUR = 3600;
let api: TestApi;
let crm: CrmSimulator;
let tenant: TestTenant;
let admin: ReturnType<typeof apiClient>;
let manager: ReturnType<typeof apiClient>;

interface Source {
  id: string;
  webhookPath: string;
  secret: string;
}

beforeAll(async () => {
  crm = await startCrmSimulator({ token: TOKEN, ratePerMinute: 600 });
  api = await startTestApi();
  tenant = await createTestTenant(api.deps.db);
  admin = apiClient(api.url, await tenant.key(['admin']));
  manager = apiClient(api.url, await tenant.key(['viewer']));
});
afterAll(async () => {
  await crm?.stop();
  await api?.stop();
});

async function newSource(timezone = 'UTC', extra: Record<string, unknown> = {}): Promise<Source> {
  const created = await admin.post('/v1/analytics/sources', {
    kind: 'keycrm',
    name: `KeyCRM ${Math.random().toString(36).slice(2, 8)}`,
    baseUrl: crm.apiUrl,
    apiToken: TOKEN,
    timezone,
    ...extra,
  });
  expect(created.status, created.text).toBe(201);
  expect(created.body.webhookUrl).toContain(`${created.body.source.webhookPath}?secret=`);
  return {
    id: created.body.source.id,
    webhookPath: created.body.source.webhookPath,
    secret: created.body.webhookSecret,
  };
}

const statusChange = (orderId: number, statusId: number, at: string, groupId?: number) => ({
  event: 'order.change_order_status',
  context: {
    id: orderId,
    status_id: statusId,
    status_group_id: groupId,
    status_changed_at: at,
    source_uuid: 'x',
  },
});

async function deliver(source: Source, body: unknown, secret = source.secret) {
  const response = await fetch(`${api.url}${source.webhookPath}?secret=${encodeURIComponent(secret)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The analytics id of a source's order, by its id in the CRM. */
async function orderOf(source: Source, externalId: number): Promise<string> {
  const row = await api.deps.db
    .selectFrom('analytics_orders')
    .select('id')
    .where('source_id', '=', source.id)
    .where('order_id', '=', String(externalId))
    .executeTakeFirstOrThrow();
  return row.id;
}

const timeline = async (source: Source, externalId: number) => {
  const answer = await manager.get(`/v1/analytics/orders/${await orderOf(source, externalId)}/timeline`);
  expect(answer.status, answer.text).toBe(200);
  return answer.body;
};

const sync = () =>
  createCrmSync({
    db: api.deps.db,
    secrets: api.deps.secrets,
    logger: createLogger(testConfig(), 'crm-sync-test'),
    throttle: crmThrottle(api.deps.db, 600),
    refreshEveryMs: 3_600_000,
  });

describe('the status log', () => {
  it('records each delivery once, places a late event by its time, and makes a re-entered status a new interval', async () => {
    const source = await newSource();
    const first = await deliver(source, statusChange(501, 1, '2026-05-04 10:00:00', 1));
    expect(first).toEqual({ status: 200, body: { received: true, duplicate: false, outcome: 'recorded' } });
    // Printing is delivered before the layout status that came earlier.
    await deliver(source, statusChange(501, 22, '2026-05-04 13:00:00', 3));
    await deliver(source, statusChange(501, 21, '2026-05-04 11:00:00', 2));
    const again = await deliver(source, statusChange(501, 21, '2026-05-04 11:00:00', 2));
    expect(again.body).toEqual({ received: true, duplicate: true, outcome: 'duplicate' });
    // Back to layout, then printing again: new intervals, not the old ones.
    await deliver(source, statusChange(501, 21, '2026-05-04 15:00:00', 2));
    await deliver(source, statusChange(501, 22, '2026-05-04T16:30:00Z', 3));

    const rows = await api.deps.db
      .selectFrom('status_events')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('source_id', '=', source.id)
      .executeTakeFirstOrThrow();
    expect(rows.n).toBe(5);

    const { intervals, stays } = await timeline(source, 501);
    expect(
      intervals.map((i: { statusId: string; enteredAt: string; leftAt: string | null; seconds: number }) => [
        i.statusId,
        i.enteredAt,
        i.leftAt,
        i.leftAt ? i.seconds : 'open',
      ]),
    ).toEqual([
      ['1', '2026-05-04T10:00:00.000Z', '2026-05-04T11:00:00.000Z', HOUR],
      ['21', '2026-05-04T11:00:00.000Z', '2026-05-04T13:00:00.000Z', 2 * HOUR],
      ['22', '2026-05-04T13:00:00.000Z', '2026-05-04T15:00:00.000Z', 2 * HOUR],
      ['21', '2026-05-04T15:00:00.000Z', '2026-05-04T16:30:00.000Z', 1.5 * HOUR],
      ['22', '2026-05-04T16:30:00.000Z', null, 'open'],
    ]);
    expect(stays.map((s: { groupId: string }) => s.groupId)).toEqual(['1', '2', '3', '2', '3']);
  });
});

describe('working hours', () => {
  it('count two windows a day, skip the weekend and a holiday, and keep DST days as long as they are', async () => {
    const source = await newSource('Europe/Kyiv');
    const weekdays = [
      ['09:00', '13:00'],
      ['14:00', '18:00'],
    ];
    const saved = await admin.put(`/v1/analytics/sources/${source.id}/settings/working-hours`, {
      calendars: [
        {
          groupId: '3',
          timezone: 'Europe/Kyiv',
          week: { mon: weekdays, tue: weekdays, wed: weekdays, thu: weekdays, fri: weekdays },
          holidays: ['2026-03-30'],
        },
        {
          groupId: '2',
          timezone: 'Europe/Kyiv',
          week: Object.fromEntries(
            ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, [['00:00', '24:00']]]),
          ),
        },
      ],
    });
    expect(saved.status, saved.text).toBe(200);

    // Kyiv moves to summer time on Sunday 29 March 2026 (03:00 → 04:00) and back on Sunday 25 October.
    // Printing from Friday 12:00 to Tuesday 09:30, over a weekend, the DST change and Monday's holiday:
    // Friday 12:00–13:00 and 14:00–18:00 (5 h), Tuesday 09:00–09:30 (0.5 h).
    await deliver(source, statusChange(601, 22, '2026-03-27 12:00:00'));
    await deliver(source, statusChange(601, 7, '2026-03-31 09:30:00'));
    await deliver(source, statusChange(601, 8, '2026-03-31 10:30:00'));
    // A round-the-clock group over each DST change: Saturday noon to Monday noon is 47 h in spring, 49 h in autumn.
    await deliver(source, statusChange(602, 20, '2026-03-28 12:00:00'));
    await deliver(source, statusChange(602, 8, '2026-03-30 12:00:00'));
    await deliver(source, statusChange(603, 20, '2026-10-24 12:00:00'));
    await deliver(source, statusChange(603, 8, '2026-10-26 12:00:00'));
    // The group's calendar needs the dictionary to know printing and packing are production (group 3).
    await sync().refreshStatuses(source.id);

    const printing = (await timeline(source, 601)).intervals;
    expect(printing.slice(0, 2).map((i: { seconds: number }) => i.seconds)).toEqual([5.5 * HOUR, 1 * HOUR]);
    // Wall-clock time, for comparison: 3 days and 20.5 hours less the hour DST took.
    expect(printing[0].elapsedSeconds).toBe(92.5 * HOUR);
    expect(printing[0].enteredAt).toBe('2026-03-27T10:00:00.000Z');
    expect((await timeline(source, 602)).intervals[0].seconds).toBe(47 * HOUR);
    expect((await timeline(source, 603)).intervals[0].seconds).toBe(49 * HOUR);

    // Editing the calendar recomputes from the log: without the holiday, Monday's 8 hours count.
    const calendars = (await admin.get(`/v1/analytics/sources/${source.id}/settings/working-hours`)).body
      .calendars;
    await admin.put(`/v1/analytics/sources/${source.id}/settings/working-hours`, {
      calendars: calendars.map((c: { groupId: string }) => (c.groupId === '3' ? { ...c, holidays: [] } : c)),
    });
    expect((await timeline(source, 601)).intervals[0].seconds).toBe(13.5 * HOUR);

    // Who changed what, and when.
    const audit = await api.deps.db
      .selectFrom('domain_events')
      .select(['actor', 'payload', 'occurred_at'])
      .where('entity_id', '=', source.id)
      .where('type', '=', 'analytics.settings.changed')
      .orderBy('position')
      .execute();
    expect(audit).toHaveLength(2);
    expect(audit[1]?.actor).toMatchObject({ type: 'user', name: 'admin' });
    expect(audit[1]?.payload).toMatchObject({
      part: 'working-hours',
      before: { calendars: expect.arrayContaining([expect.objectContaining({ holidays: ['2026-03-30'] })]) },
      after: { calendars: expect.arrayContaining([expect.objectContaining({ groupId: '3', holidays: [] })]) },
    });
  });
});
