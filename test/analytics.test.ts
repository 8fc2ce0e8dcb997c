import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrmSync } from '../integrations/crm/crmSync.js';
import { crmThrottle } from '../integrations/crm/throttle.js';
import { createLogger } from '../runtime/logger.js';
import { type CrmSimulator, startCrmSimulator } from '../scripts/simulators/crm.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig, testEnvironment } from './helpers/config.js';
import { openStream } from './helpers/sse.js';
import { killProcess, startApiProcess } from './helpers/workerProcess.js';

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
  return { status: response.status, body: (await response.json()) as any };
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
    policy: { allowLoopback: true },
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

    // The CRM's token is sealed at rest, and the webhook secret kept only as its hash.
    const stored = await api.deps.db
      .selectFrom('status_sources')
      .selectAll()
      .where('id', '=', source.id)
      .executeTakeFirstOrThrow();
    expect(stored.api_token).toMatch(/^sealed:v1:/);
    expect(api.deps.secrets.open(stored.api_token ?? '')).toBe(TOKEN);
    expect(JSON.stringify(stored)).not.toContain(TOKEN);
    expect(JSON.stringify(stored)).not.toContain(source.secret);

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

describe('SLA, urgency and cycles', () => {
  it('judge stays by the order’s limits, urgent by its items or by hand, and time each cycle', async () => {
    const source = await newSource();
    await admin.put(`/v1/analytics/sources/${source.id}/settings/urgent-rules`, {
      rules: [
        { match: 'sku', value: 'Термінове виготовлення' },
        { match: 'offer_id', value: '16' },
      ],
    });
    const sla = await admin.put(`/v1/analytics/sources/${source.id}/settings/sla`, {
      nearFraction: 0.75,
      profiles: [
        { profile: 'default', limits: [{ groupId: '3', normal: '8:00', urgent: '4:00' }] },
        { profile: 'vip', limits: [{ groupId: '3', normal: '2:00', urgent: null }] },
      ],
    });
    expect(sla.status, sla.text).toBe(200);
    await admin.put(`/v1/analytics/sources/${source.id}/settings/cycles`, {
      cycles: [
        {
          code: 'to_delivery',
          name: 'To delivery',
          start: { kind: 'group', ref: '1' },
          end: { kind: 'group', ref: '4' },
        },
        {
          code: 'full',
          name: 'Full cycle',
          start: { kind: 'status', ref: '1' },
          end: { kind: 'group', ref: '5' },
        },
      ],
    });
    const product = (sku: string, offerId: number) => ({
      name: sku,
      sku,
      quantity: 1,
      offer: { id: offerId, product_id: 900 + offerId, sku },
    });
    crm.createOrder(701, [product('Термінове виготовлення', 3), product('Badge', 4)]);
    crm.createOrder(702, [product('Badge', 16)]);
    crm.createOrder(703, [product('Badge', 4)]);
    crm.createOrder(704, [product('Badge', 4)]);
    crm.webhookUrl = `${api.url}${source.webhookPath}?secret=${source.secret}`;
    // Each order: new at 08:00, printing from 09:00 for the hours given, then handed to the courier, completed.
    const production = { 701: 5, 702: 3.5, 703: 5, 704: 5 } as const;
    for (const [order, hours] of Object.entries(production)) {
      const id = Number(order);
      await crm.changeStatus(id, 1, new Date('2026-06-01T08:00:00Z'));
      await crm.changeStatus(id, 22, new Date('2026-06-01T09:00:00Z'));
      await crm.changeStatus(id, 8, new Date(Date.parse('2026-06-01T09:00:00Z') + hours * HOUR * 1000));
    }
    await crm.changeStatus(701, 12, new Date('2026-06-02T10:00:00Z'));
    // The items come from the CRM's API in the background (here, one pass), with the dictionary.
    const passed = await sync().syncOnce();
    expect(passed.items).toBeGreaterThanOrEqual(4);

    const listed = await manager.get(`/v1/analytics/orders?source=${source.id}`);
    expect(listed.status, listed.text).toBe(200);
    const byId = Object.fromEntries(
      listed.body.orders.map((o: { externalId: string }) => [o.externalId, o]),
    ) as Record<
      string,
      {
        urgent: boolean;
        sla: string;
        groups: { groupId: string; sla: string | null; seconds: number }[];
        cycles: { code: string; seconds: number; endedAt: string | null }[];
        status: { id: string; name: string; groupName: string };
      }
    >;
    // 701: urgent by SKU, 5 h against 4 h: over. 702: urgent by offer 16, 3.5 h of 4 h: near (≥ 75 %).
    // 703: normal, 5 h of 8 h: ok. 704: made urgent by hand below.
    expect([byId['701']?.urgent, byId['702']?.urgent, byId['703']?.urgent, byId['704']?.urgent]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect([byId['701']?.sla, byId['702']?.sla, byId['703']?.sla]).toEqual(['over', 'near', 'ok']);
    expect(byId['701']?.status).toMatchObject({ id: '12', name: 'Completed', groupName: 'Completed' });
    expect(byId['701']?.cycles).toEqual([
      {
        code: 'full',
        name: 'Full cycle',
        startedAt: '2026-06-01T08:00:00.000Z',
        endedAt: '2026-06-02T10:00:00.000Z',
        seconds: 26 * HOUR,
      },
      {
        code: 'to_delivery',
        name: 'To delivery',
        startedAt: '2026-06-01T08:00:00.000Z',
        endedAt: '2026-06-01T14:00:00.000Z',
        seconds: 6 * HOUR,
      },
    ]);
    expect(byId['703']?.cycles.find((c) => c.code === 'full')?.endedAt).toBeNull();

    // By hand: 704 urgent (5 h of 4 h: over); 703 on the vip profile (2 h normal: over) and its delivery cycle
    // ending when printing started instead.
    const order704 = await orderOf(source, 704);
    const urgent = await admin.put(`/v1/analytics/orders/${order704}/override`, {
      urgent: true,
      slaProfile: null,
    });
    expect(urgent.status, urgent.text).toBe(200);
    await admin.put(`/v1/analytics/orders/${await orderOf(source, 703)}/override`, {
      urgent: null,
      slaProfile: 'vip',
      cycles: { to_delivery: { end: { kind: 'status', ref: '22' } } },
    });
    const after = (await manager.get(`/v1/analytics/orders?source=${source.id}`)).body
      .orders as typeof listed.body.orders;
    const now = Object.fromEntries(
      after.map((o: { externalId: string }) => [o.externalId, o]),
    ) as typeof byId;
    expect([now['704']?.urgent, now['704']?.sla]).toEqual([true, 'over']);
    expect(now['703']?.sla).toBe('over');
    expect(now['703']?.cycles.find((c) => c.code === 'to_delivery')?.seconds).toBe(HOUR);
    // Filters: urgent orders, and those over their limit.
    const urgentOnes = (await manager.get(`/v1/analytics/orders?source=${source.id}&urgent=true`)).body
      .orders;
    expect(urgentOnes.map((o: { externalId: string }) => o.externalId).sort()).toEqual(['701', '702', '704']);
    const overOnes = (await manager.get(`/v1/analytics/orders?source=${source.id}&sla=over`)).body.orders;
    expect(overOnes.map((o: { externalId: string }) => o.externalId).sort()).toEqual(['701', '703', '704']);
    // Paged, newest first.
    const page = await manager.get(`/v1/analytics/orders?source=${source.id}&limit=3`);
    const rest = await manager.get(
      `/v1/analytics/orders?source=${source.id}&limit=3&cursor=${page.body.nextCursor}`,
    );
    expect(
      [...page.body.orders, ...rest.body.orders].map((o: { externalId: string }) => o.externalId).sort(),
    ).toEqual(['701', '702', '703', '704']);
    expect(rest.body.nextCursor).toBeNull();
  });
});

describe('KPIs', () => {
  it('answer a fixture with known figures, split into normal and urgent orders', async () => {
    const source = await newSource();
    await admin.put(`/v1/analytics/sources/${source.id}/settings/sla`, {
      nearFraction: 0.5,
      profiles: [{ profile: 'default', limits: [{ groupId: '3', normal: '4:00', urgent: '2:00' }] }],
    });
    await admin.put(`/v1/analytics/sources/${source.id}/settings/cycles`, {
      cycles: [
        {
          code: 'to_delivery',
          name: 'To delivery',
          start: { kind: 'group', ref: '1' },
          end: { kind: 'group', ref: '4' },
        },
      ],
    });
    const moves: [number, number, number, string][] = [
      // order, status, group, at (UTC)
      [801, 1, 1, '2026-07-01 08:00:00'],
      [801, 22, 3, '2026-07-01 09:00:00'], // production 3 h of 4: near (from 2 h)
      [801, 8, 4, '2026-07-01 12:00:00'],
      [802, 1, 1, '2026-07-01 10:00:00'],
      [802, 22, 3, '2026-07-01 10:30:00'],
      [802, 7, 3, '2026-07-01 11:30:00'], // one stay in production, 5 h: over
      [802, 8, 4, '2026-07-01 15:30:00'],
      [803, 1, 1, '2026-07-02 09:00:00'], // urgent (by hand, below)
      [803, 22, 3, '2026-07-02 12:00:00'], // 1 h of 2: near
      [803, 12, 5, '2026-07-02 13:00:00'],
      [804, 1, 1, '2026-06-30 23:00:00'], // begun before the period: its first stay and cycle are not counted
      [804, 22, 3, '2026-07-01 01:00:00'], // 1 h of 4: ok
      [804, 12, 5, '2026-07-01 02:00:00'],
      [805, 1, 1, '2026-07-05 09:00:00'], // after the period
    ];
    for (const [order, status, group, at] of moves)
      await deliver(source, statusChange(order, status, at, group));
    await admin.put(`/v1/analytics/orders/${await orderOf(source, 803)}/override`, {
      urgent: true,
      slaProfile: null,
    });

    const window = `source=${source.id}&from=2026-07-01T00:00:00Z&to=2026-07-03T00:00:00Z`;
    const answer = await manager.get(`/v1/analytics/kpis?${window}`);
    expect(answer.status, answer.text).toBe(200);
    const k = answer.body;
    expect(k.orders).toEqual({ all: 4, normal: 3, urgent: 1 });
    const group = (id: string) => k.groups.find((g: { groupId: string }) => g.groupId === id);
    expect(group('1').all).toMatchObject({
      stays: 3,
      closed: 3,
      averageSeconds: 1.5 * HOUR,
      medianSeconds: HOUR,
    });
    expect(group('1').normal).toMatchObject({
      stays: 2,
      averageSeconds: 0.75 * HOUR,
      medianSeconds: 0.75 * HOUR,
    });
    expect(group('1').urgent).toMatchObject({ stays: 1, averageSeconds: 3 * HOUR });
    expect(group('3').all).toEqual({
      stays: 4,
      closed: 4,
      averageSeconds: 2.5 * HOUR,
      medianSeconds: 2 * HOUR,
      sla: { judged: 4, ok: 1, near: 2, over: 1, okPct: 25, nearPct: 50, overPct: 25 },
    });
    expect(group('3').normal.sla).toEqual({
      judged: 3,
      ok: 1,
      near: 1,
      over: 1,
      okPct: 33.3,
      nearPct: 33.3,
      overPct: 33.3,
    });
    expect(group('3').urgent.sla).toMatchObject({ judged: 1, near: 1, nearPct: 100 });
    expect(group('4').all).toMatchObject({
      stays: 2,
      closed: 0,
      averageSeconds: null,
      sla: { judged: 0, okPct: null },
    });
    expect(k.cycles).toEqual([
      {
        code: 'to_delivery',
        name: 'To delivery',
        all: { started: 3, completed: 2, averageSeconds: 4.75 * HOUR, medianSeconds: 4.75 * HOUR },
        normal: { started: 2, completed: 2, averageSeconds: 4.75 * HOUR, medianSeconds: 4.75 * HOUR },
        urgent: { started: 1, completed: 0, averageSeconds: null, medianSeconds: null },
      },
    ]);
    expect(k.periods).toEqual([
      {
        start: '2026-07-01T00:00:00.000Z',
        seconds: 10.5 * HOUR,
        groups: [
          { groupId: '1', seconds: 1.5 * HOUR },
          { groupId: '3', seconds: 9 * HOUR },
        ],
      },
      {
        start: '2026-07-02T00:00:00.000Z',
        seconds: 4 * HOUR,
        groups: [
          { groupId: '1', seconds: 3 * HOUR },
          { groupId: '3', seconds: HOUR },
        ],
      },
    ]);

    const normalOnly = (await manager.get(`/v1/analytics/kpis?${window}&urgent=false`)).body;
    expect(normalOnly.orders).toEqual({ all: 3, normal: 3, urgent: 0 });
    expect(normalOnly.groups.find((g: { groupId: string }) => g.groupId === '3').all.stays).toBe(3);
    const weekly = (await manager.get(`/v1/analytics/kpis?${window}&period=week`)).body;
    // 1 and 2 July 2026 are a Wednesday and a Thursday: one ISO week, from Monday 29 June.
    expect(weekly.periods).toEqual([
      expect.objectContaining({ start: '2026-06-29T00:00:00.000Z', seconds: 14.5 * HOUR }),
    ]);
  });
});

describe('refusals', () => {
  const eventCount = async () =>
    (
      await api.deps.db
        .selectFrom('status_events')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('tenant_id', '=', tenant.tenantId)
        .executeTakeFirstOrThrow()
    ).n;

  it('refuse bad webhooks naming the field, forged or unlisted senders, and a switched-off source; nothing is written', async () => {
    const source = await newSource();
    const before = await eventCount();
    const bad = await deliver(source, {
      event: 'order.change_order_status',
      context: { id: 9, status_changed_at: 'yesterday' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'body.context.status_changed_at',
      'body.context.status_id',
    ]);
    expect((await deliver(source, statusChange(9, 1, '2026-01-01 10:00:00'), 'crmhook_guessed')).status).toBe(
      401,
    );
    const unknown = { ...source, webhookPath: '/webhooks/crm/keycrm/00000000-0000-4000-8000-000000000000' };
    const nobody = await deliver(unknown, statusChange(9, 1, '2026-01-01 10:00:00'));
    expect(nobody.status).toBe(401);
    expect(nobody.body.detail).toBe('unknown source or wrong secret');
    // Only listed addresses may deliver (the tests deliver from 127.0.0.1).
    const listed = await newSource('UTC', { allowedIps: ['203.0.113.0/24'] });
    const outsider = await deliver(listed, statusChange(9, 1, '2026-01-01 10:00:00'));
    expect(outsider.status).toBe(401);
    expect(outsider.body.detail).toContain('127.0.0.1');
    await admin.put(`/v1/analytics/sources/${listed.id}`, { allowedIps: ['127.0.0.0/8'] });
    expect((await deliver(listed, statusChange(9, 1, '2026-01-01 10:00:00'))).status).toBe(200);
    await admin.put(`/v1/analytics/sources/${listed.id}`, { active: false });
    expect((await deliver(listed, statusChange(9, 2, '2026-01-01 11:00:00'))).status).toBe(409);
    // Another event of KeyCRM's is acknowledged and ignored.
    const other = await deliver(source, {
      event: 'order.change_payment_status',
      context: { id: 9, status_id: 1, status_changed_at: '2026-01-01 10:00:00' },
    });
    expect(other.body.outcome).toBe('not_a_status_change');
    expect(await eventCount()).toBe(before + 1);
  });

  it('refuse bad settings naming the field, leaving the settings as they were', async () => {
    const source = await newSource();
    const path = `/v1/analytics/sources/${source.id}/settings`;
    const good = {
      calendars: [{ groupId: '*', timezone: 'Europe/Kyiv', week: { mon: [['09:00', '18:00']] } }],
    };
    expect((await admin.put(`${path}/working-hours`, good)).status).toBe(200);
    const cases: [string, unknown, string[]][] = [
      [
        'working-hours',
        {
          calendars: [
            {
              groupId: '*',
              timezone: 'Mars/Olympus',
              week: {
                mon: [
                  ['09:00', '13:00'],
                  ['12:00', '18:00'],
                ],
                tue: [['18:00', '09:00']],
              },
            },
          ],
        },
        ['body.calendars.0.timezone', 'body.calendars.0.week.mon', 'body.calendars.0.week.tue.0'],
      ],
      ['working-hours', { calendars: [good.calendars[0], good.calendars[0]] }, ['body.calendars.1']],
      [
        'sla',
        {
          nearFraction: 1.5,
          profiles: [{ profile: 'default', limits: [{ groupId: '3', normal: '25:61', urgent: null }] }],
        },
        ['body.nearFraction', 'body.profiles.0.limits.0.normal'],
      ],
      [
        'cycles',
        {
          cycles: [
            {
              code: 'Full Cycle',
              name: '',
              start: { kind: 'stage', ref: '1' },
              end: { kind: 'group', ref: '5' },
            },
          ],
        },
        ['body.cycles.0.code', 'body.cycles.0.name', 'body.cycles.0.start.kind'],
      ],
      ['urgent-rules', { rules: [{ match: 'colour', value: 'red' }] }, ['body.rules.0.match']],
    ];
    for (const [part, body, fields] of cases) {
      const refused = await admin.put(`${path}/${part}`, body);
      expect(refused.status, `${part}: ${refused.text}`).toBe(400);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(refused.body.errors.map((e: { field: string }) => e.field).sort(), part).toEqual(fields);
    }
    expect((await admin.get(`${path}/working-hours`)).body).toEqual({
      calendars: [
        {
          ...good.calendars[0],
          week: { mon: [['09:00', '18:00']], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [] },
          holidays: [],
        },
      ],
    });
    expect((await admin.get(`${path}/sla`)).body).toEqual({ nearFraction: 0.8, profiles: [] });
    // A CRM's API is called from inside: an address inside Flowdesk's network is refused, as a supplier's is.
    const inside = await admin.post('/v1/analytics/sources', {
      kind: 'keycrm',
      name: 'Metadata',
      baseUrl: 'http://169.254.169.254/v1',
      apiToken: TOKEN,
    });
    expect(inside.status).toBe(400);
    expect(inside.body.errors).toEqual([
      { field: 'body.baseUrl', message: expect.stringContaining('private') },
    ]);
    expect(
      (await admin.put(`/v1/analytics/sources/${source.id}`, { baseUrl: 'https://10.1.2.3/v1' })).status,
    ).toBe(400);
    // Settings are an admin's: a manager may read figures, not change or read settings.
    expect((await manager.get(`${path}/sla`)).status).toBe(403);
    expect((await manager.put(`${path}/sla`, { nearFraction: 0.5, profiles: [] })).status).toBe(403);
  });

  it('keep another tenant out of a source: its figures, settings, orders and stream answer 404', async () => {
    const source = await newSource();
    await deliver(source, statusChange(990, 1, '2026-02-01 10:00:00'));
    const order = await orderOf(source, 990);
    const other = await createTestTenant(api.deps.db);
    const stranger = apiClient(api.url, await other.key(['admin']));
    for (const path of [
      `/v1/analytics/orders?source=${source.id}`,
      `/v1/analytics/orders/${order}/timeline`,
      `/v1/analytics/kpis?source=${source.id}`,
      `/v1/analytics/dicts/statuses?source=${source.id}`,
      `/v1/analytics/sources/${source.id}/settings/working-hours`,
      `/v1/stream/orders?source=${source.id}`,
    ])
      expect((await stranger.get(path)).status, path).toBe(404);
    expect(
      (await stranger.put(`/v1/analytics/orders/${order}/override`, { urgent: true, slaProfile: null }))
        .status,
    ).toBe(404);
    expect(
      (
        await stranger.put(`/v1/analytics/sources/${source.id}/settings/sla`, {
          nearFraction: 0.5,
          profiles: [],
        })
      ).status,
    ).toBe(404);
    expect((await stranger.put(`/v1/analytics/sources/${source.id}`, { name: 'Mine now' })).status).toBe(404);
    const theirs = (await stranger.get('/v1/analytics/sources')).body.sources;
    expect(theirs.map((s: { kind: string }) => s.kind)).toEqual(['flowdesk']);
    expect((await stranger.get('/v1/analytics/orders')).body.orders).toEqual([]);
    const untouched = await api.deps.db
      .selectFrom('analytics_orders')
      .select('urgent_override')
      .where('id', '=', order)
      .executeTakeFirstOrThrow();
    expect(untouched.urgent_override).toBeNull();
  });
});

describe('the live stream', () => {
  it('carries an update from one API process to another within a second, resumes from Last-Event-ID, and beats', async () => {
    const other = await startApiProcess(testEnvironment({ STREAM_HEARTBEAT_SECONDS: '1' }));
    try {
      const source = await newSource();
      const key = await tenant.key(['viewer']);
      const stream = await openStream(`${other.url}/v1/stream/orders?source=${source.id}`, {
        authorization: `Bearer ${key}`,
      });
      expect(stream.status).toBe(200);
      await stream.next((e) => e.comment === 'connected');

      // Received by this process's API, heard on the other process's stream.
      const sent = Date.now();
      await deliver(source, statusChange(1001, 1, '2026-08-01 09:00:00'));
      const first = await stream.next((e) => e.event === 'order_updated', 1000);
      expect(first.at - sent).toBeLessThan(1000);
      expect(JSON.parse(first.data ?? '')).toEqual({
        orderId: await orderOf(source, 1001),
        externalOrderId: '1001',
        sourceId: source.id,
        statusId: '1',
      });
      await stream.next((e) => e.comment === 'heartbeat', 2500);
      await stream.close();

      // Missed while away, sent first on return, in order, without repeating what was seen.
      await deliver(source, statusChange(1001, 22, '2026-08-01 10:00:00'));
      await deliver(source, statusChange(1002, 1, '2026-08-01 10:05:00'));
      const resumed = await openStream(`${other.url}/v1/stream/orders?source=${source.id}`, {
        authorization: `Bearer ${key}`,
        'last-event-id': first.id ?? '',
      });
      await resumed.next((e) => e.event === 'order_updated' && e.data?.includes('"1002"') === true);
      const updates = resumed.events
        .filter((e) => e.event === 'order_updated')
        .map((e) => JSON.parse(e.data ?? ''));
      expect(updates.map((u) => [u.externalOrderId, u.statusId])).toEqual([
        ['1001', '22'],
        ['1002', '1'],
      ]);
      // A settings change makes every figure stale: the stream says so.
      await admin.put(`/v1/analytics/sources/${source.id}/settings/urgent-rules`, {
        rules: [{ match: 'sku', value: 'RUSH' }],
      });
      const invalidated = await resumed.next((e) => e.event === 'invalidate', 1000);
      expect(JSON.parse(invalidated.data ?? '')).toEqual({
        sourceId: source.id,
        reason: 'urgent-rules changed',
      });
      await resumed.close();
    } finally {
      await killProcess(other.child);
    }
  });
});

describe('the CRM’s API', () => {
  it('gives each order’s items in the background within the token’s rate limit, trying again after a failure', async () => {
    const limited = await startCrmSimulator({
      token: TOKEN,
      ratePerMinute: 120,
      faults: { failOrderReads: 1 },
    });
    try {
      const created = await admin.post('/v1/analytics/sources', {
        kind: 'keycrm',
        name: 'Rate-limited project',
        baseUrl: limited.apiUrl,
        apiToken: TOKEN,
      });
      const source: Source = {
        id: created.body.source.id,
        webhookPath: created.body.source.webhookPath,
        secret: created.body.webhookSecret,
      };
      limited.webhookUrl = `${api.url}${source.webhookPath}?secret=${source.secret}`;
      const orders = Array.from({ length: 18 }, (_, i) => 1100 + i);
      for (const id of orders) {
        limited.createOrder(id, [
          { name: 'Sign', sku: `SKU-${id}`, quantity: 2, offer: { id, product_id: 7, sku: `SKU-${id}` } },
        ]);
        await limited.changeStatus(id, 1);
      }
      // 120 a minute: a burst of 12, then one every 0.55 s; the first order read fails (503) and waits its turn.
      const crmSync = createCrmSync({
        db: api.deps.db,
        secrets: api.deps.secrets,
        logger: createLogger(testConfig(), 'crm-sync-test'),
        throttle: crmThrottle(api.deps.db, 120),
        policy: { allowLoopback: true },
        refreshEveryMs: 3_600_000,
        backoffBaseMs: 600_000,
      });
      const started = Date.now();
      // One pass does every source that is due (other tests' too): this one's figures are read from its rows.
      await crmSync.syncOnce();
      const elapsed = Date.now() - started;
      const states = await api.deps.db
        .selectFrom('analytics_orders')
        .select(['items_state', sql<number>`count(*)::int`.as('n')])
        .where('source_id', '=', source.id)
        .groupBy('items_state')
        .orderBy('items_state')
        .execute();
      expect(states).toEqual([
        { items_state: 'fetched', n: 17 },
        { items_state: 'pending', n: 1 },
      ]);
      expect(limited.requests.filter((r) => r.path === '/v1/order/status')).toHaveLength(1);
      // 19 calls (the dictionary, 18 orders): 12 at once, 7 at 1.8 a second.
      expect(elapsed).toBeGreaterThan(3500);
      expect(limited.requests.filter((r) => r.status === 429)).toEqual([]);
      const failed = await api.deps.db
        .selectFrom('analytics_orders')
        .select(['id', 'items_state', 'items_attempts', 'items_error'])
        .where('source_id', '=', source.id)
        .where('items_state', '!=', 'fetched')
        .execute();
      expect(failed).toEqual([
        expect.objectContaining({
          items_state: 'pending',
          items_attempts: 1,
          items_error: expect.stringContaining('503'),
        }),
      ]);
      // Its turn comes again after the back-off (ten minutes here; made due rather than waited for).
      await api.deps.db
        .updateTable('analytics_orders')
        .set({ items_next_at: new Date() })
        .where('id', '=', failed[0]?.id ?? '')
        .execute();
      await crmSync.syncOnce();
      const items = await api.deps.db
        .selectFrom('analytics_orders')
        .select(['order_id', 'items', 'items_state'])
        .where('source_id', '=', source.id)
        .orderBy('order_id')
        .execute();
      expect(items.every((row) => row.items_state === 'fetched')).toBe(true);
      expect(items[0]?.items).toEqual([
        { sku: 'SKU-1100', offerId: '1100', productId: '7', name: 'Sign', quantity: 2 },
      ]);
      // Fetched once each: nothing asks for an order's items twice.
      const orderReads = limited.requests.filter((r) => r.path.startsWith('/v1/order/1') && r.status === 200);
      expect(new Set(orderReads.map((r) => r.path)).size).toBe(orderReads.length);
    } finally {
      await limited.stop();
    }
  });

  it('gives the status dictionary on demand: npm run crm:statuses', async () => {
    const source = await newSource();
    // Not spawnSync: the CRM simulator answering it runs in this process.
    const run = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'scripts/crmStatuses.ts', '--source', source.id],
      { env: { ...process.env, ...testEnvironment() }, encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`9 statuses of source ${source.id} saved.\n`);
    const dicts = (await manager.get(`/v1/analytics/dicts/statuses?source=${source.id}`)).body.sources;
    expect(dicts).toHaveLength(1);
    expect(
      dicts[0].groups.map((g: { name: string; statuses: unknown[] }) => [g.name, g.statuses.length]),
    ).toEqual([
      ['New', 1],
      ['Approval', 2],
      ['Production', 2],
      ['Delivery', 2],
      ['Completed', 1],
      ['Cancelled', 1],
    ]);
  });
});
