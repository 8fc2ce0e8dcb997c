import { setTimeout as sleep } from 'node:timers/promises';
import { api, call, runDemo, say, secret } from './demo/client.js';
import { startCrmSimulator } from './simulators/crm.js';

/**
 * `npm run demo:analytics`, against a running `npm start`: a KeyCRM project (the CRM simulator, started here)
 * becomes a source; an admin sets its working hours (two windows a weekday), SLA grids, cycles and an urgent rule;
 * twelve orders move through their statuses over the last days, their webhooks sent twice and some held back and
 * delivered late; the worker fetches their items from the CRM's API (within its rate limit), which makes two
 * urgent. It prints the source's KPIs (normal and urgent apart), its orders over their limit, and the KPIs of
 * Flowdesk's own flows (the other demos' flows feed them), all from the one status log.
 */

const HOUR = 3_600_000;
const weekdays = [
  ['09:00', '13:00'],
  ['14:00', '18:00'],
];
const hours = (seconds: number | null) => (seconds === null ? '—' : `${(seconds / 3600).toFixed(1)} h`);

interface Stats {
  stays: number;
  averageSeconds: number | null;
  medianSeconds: number | null;
  sla: { okPct: number | null; nearPct: number | null; overPct: number | null };
}
interface Kpis {
  orders: { all: number; normal: number; urgent: number };
  groups: { groupId: string; groupName: string | null; normal: Stats; urgent: Stats }[];
  cycles: {
    code: string;
    name: string;
    all: { started: number; completed: number; averageSeconds: number | null };
  }[];
  flowdesk?: Record<string, { pct: number | null }>;
}

async function main() {
  const admin = await secret('demo-api-key');
  const token = `keycrm-demo-${Date.now()}`;
  const crm = await startCrmSimulator({ token, faults: { webhookCopies: 2 } });
  try {
    const created = await call<{ source: { id: string; webhookPath: string }; webhookSecret: string }>(
      'POST',
      '/v1/analytics/sources',
      admin,
      { kind: 'keycrm', name: 'Workshop (KeyCRM)', baseUrl: crm.apiUrl, apiToken: token, timezone: 'UTC' },
    );
    const { id: sourceId } = created.source;
    crm.webhookUrl = `${api}${created.source.webhookPath}?secret=${created.webhookSecret}`;
    say(`source ${sourceId}: KeyCRM posts to ${created.source.webhookPath}?secret=…`);

    const settings = `/v1/analytics/sources/${sourceId}/settings`;
    await call('PUT', `${settings}/working-hours`, admin, {
      calendars: [
        {
          groupId: '3',
          timezone: 'Europe/Kyiv',
          week: { mon: weekdays, tue: weekdays, wed: weekdays, thu: weekdays, fri: weekdays },
        },
      ],
    });
    await call('PUT', `${settings}/sla`, admin, {
      nearFraction: 0.8,
      profiles: [
        {
          profile: 'default',
          limits: [
            { groupId: '1', normal: '2:00', urgent: '1:00' },
            { groupId: '2', normal: '8:00', urgent: '4:00' },
            { groupId: '3', normal: '16:00', urgent: '6:00' },
          ],
        },
      ],
    });
    await call('PUT', `${settings}/cycles`, admin, {
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
    await call('PUT', `${settings}/urgent-rules`, admin, {
      rules: [{ match: 'sku', value: 'Термінове виготовлення' }],
    });
    say('working hours, SLA grids, cycles and an urgent rule set (each change audited)');

    // Twelve orders over the last days; every webhook arrives twice, and a third of them are held back and late.
    const started = Date.now() - 6 * 24 * HOUR;
    const path = [1, 20, 21, 22, 7, 8, 11, 12];
    for (let n = 0; n < 12; n++) {
      const id = 7000 + n;
      const rush = n % 6 === 0;
      crm.createOrder(id, [
        {
          name: 'Door sign',
          sku: rush ? 'Термінове виготовлення' : 'SIGN-A4',
          quantity: 1,
          offer: { id: 100 + n, product_id: 9, sku: null },
        },
      ]);
      crm.faults.holdBack = n % 3 === 2;
      let at = started + n * 7 * HOUR;
      for (const [step, status] of path.entries()) {
        if (at > Date.now() - HOUR) break;
        await crm.changeStatus(id, status, new Date(at));
        at += (1 + ((n * 7 + step * 3) % 9)) * HOUR;
      }
      if (crm.faults.holdBack) await crm.release();
    }
    crm.faults.holdBack = false;
    await crm.settled();
    const answers = crm.deliveries.map((d) => d.answer);
    say(
      `${crm.deliveries.length} webhook deliveries (each sent twice, some late): ${answers.filter((a) => a === 200).length} answered 200`,
    );

    // The worker fetches each order's items in the background (every CRM_SYNC_SECONDS), within the rate limit.
    for (let tries = 0; tries < 150; tries++) {
      const page = await call<{ orders: { itemsState: string }[] }>(
        'GET',
        `/v1/analytics/orders?source=${sourceId}&limit=50`,
        admin,
      );
      if (page.orders.length === 12 && page.orders.every((o) => o.itemsState === 'fetched')) break;
      await sleep(200);
    }
    const orders = await call<{
      orders: { externalId: string; urgent: boolean; sla: string | null; status: { name: string } | null }[];
    }>('GET', `/v1/analytics/orders?source=${sourceId}&limit=50`, admin);
    say(
      `items fetched: ${orders.orders.filter((o) => o.urgent).length} of 12 orders are urgent (by their SKU)`,
    );
    const over = orders.orders.filter((o) => o.sla === 'over');
    say(
      `over their SLA: ${over.map((o) => `#${o.externalId} (now ${o.status?.name ?? '?'})`).join(', ') || 'none'}`,
    );

    const from = new Date(started - HOUR).toISOString();
    const kpis = await call<Kpis>('GET', `/v1/analytics/kpis?source=${sourceId}&from=${from}`, admin);
    say(
      `KPIs since ${from.slice(0, 10)}: ${kpis.orders.all} orders (${kpis.orders.normal} normal, ${kpis.orders.urgent} urgent)`,
    );
    for (const group of kpis.groups) {
      const row = (label: string, s: Stats) =>
        `${label} ${s.stays} stays, avg ${hours(s.averageSeconds)}, median ${hours(s.medianSeconds)}, SLA ok/near/over ${s.sla.okPct ?? '—'}/${s.sla.nearPct ?? '—'}/${s.sla.overPct ?? '—'} %`;
      say(
        `  ${(group.groupName ?? group.groupId).padEnd(11)} ${row('normal:', group.normal)}; ${row('urgent:', group.urgent)}`,
      );
    }
    for (const cycle of kpis.cycles)
      say(
        `  cycle ${cycle.name}: ${cycle.all.completed} of ${cycle.all.started} completed, avg ${hours(cycle.all.averageSeconds)}`,
      );

    const own = await call<Kpis>('GET', '/v1/analytics/kpis', admin);
    say(`Flowdesk's own flows, last 30 days: ${own.orders.all} flows in the log`);
    for (const cycle of own.cycles)
      say(`  ${cycle.name}: ${cycle.all.completed} completed, avg ${hours(cycle.all.averageSeconds)}`);
    if (own.flowdesk)
      say(
        `  on-time delivery ${own.flowdesk.onTimeDelivery?.pct ?? '—'} %, invoices overdue ${own.flowdesk.invoiceOverdue?.pct ?? '—'} %, ` +
          `first-pass configurations ${own.flowdesk.firstPassConfiguration?.pct ?? '—'} %`,
      );
    say(`live: curl -N -H "authorization: Bearer …" ${api}/v1/stream/orders?source=${sourceId}`);
  } finally {
    await crm.stop();
  }
}

runDemo(main);
