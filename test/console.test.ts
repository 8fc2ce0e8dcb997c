import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flowActivities } from '../activities/flows.js';
import { startFlowStatusRelay } from '../db/analytics/flowStatuses.js';
import { recordPayment } from '../db/payments.js';
import { type FlowChanges, type FlowStatus, SYSTEM } from '../domain/flow.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { launchChromium } from './helpers/browser.js';
import {
  account as consoleAccount,
  signedIn as consoleSignedIn,
  visitor as consoleVisitor,
  PASSWORD,
  signInInBrowser,
} from './helpers/console.js';
import { flowStatusOf, waitForFlowRow } from './helpers/flows.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

let api: TestApi;
let tenant: TestTenant;
let other: TestTenant;
let stopRelay: () => Promise<void>;
let worker: TestWorker;

beforeAll(async () => {
  api = await startTestApi();
  tenant = await createTestTenant(api.deps.db);
  other = await createTestTenant(api.deps.db);
  // The worker's relay: a flow's new problem reaches the live stream through the status log.
  stopRelay = startFlowStatusRelay(api.deps.db, 100, () => {});
  worker = await startTestWorker({
    workflows: { workflowsPath: fileURLToPath(new URL('./fixtures/awaitsAnswer.ts', import.meta.url)) },
    activities: flowActivities({ db: api.deps.db }),
  });
});
afterAll(async () => {
  await stopRelay?.();
  await worker?.stop();
  await api?.stop();
});

const visitor = () => consoleVisitor(api.url);
const account = (who: TestTenant, roles: string[], subject: { architectId?: string } = {}) =>
  consoleAccount(api.url, who, roles, subject);
const signedIn = (email: string) => consoleSignedIn(api.url, email);

/** A child flow's step failing and retrying, as the kernel publishes it: on its own row and on its parent's. */
async function failingChild(tenantId: string, name: string, error: string) {
  const now = new Date().toISOString();
  const parentId = `proposal:${name}`;
  const childId = `invoice:${name}`;
  const status = (flowId: string, flowType: string, extra: Partial<FlowStatus>) =>
    flowStatusOf(flowId, tenantId, {
      flowType,
      businessKey: name,
      progress: { done: 0, total: 1 },
      ...extra,
    });
  const change = (state: FlowStatus['state']): FlowChanges['events'][number] => ({
    type: 'flow.started',
    actor: SYSTEM,
    payload: {},
    key: `flow.started#1`,
    occurredAt: now,
    state,
    progress: { done: 0, total: 1 },
  });
  const { publishFlowChanges } = flowActivities({ db: api.deps.db });
  await publishFlowChanges({
    status: status(parentId, 'proposalToPayment', {
      currentStep: 'invoice',
      steps: [{ name: 'invoice', state: 'running', attempts: 1, delegatedTo: childId }],
    }),
    runId: 'run-parent',
    sequence: 1,
    events: [change('running')],
  });
  await publishFlowChanges({
    status: status(childId, 'invoicePayment', {
      state: 'retrying',
      currentStep: 'sendInvoice',
      steps: [{ name: 'sendInvoice', state: 'retrying', attempts: 3, lastError: error }],
      attention: {
        step: 'sendInvoice',
        reason: 'retrying',
        error,
        since: now,
        options: ['retry', 'skip'],
        attempt: 3,
      },
      parentFlowId: parentId,
      rootFlowId: parentId,
    }),
    runId: 'run-child',
    sequence: 1,
    events: [{ ...change('retrying'), type: 'flow.needs_attention', key: 'flow.needs_attention#1' }],
    parent: { flowId: parentId, runId: 'run-parent', milestones: { sendInvoice: 'invoice' } },
  });
  return { parentId, childId };
}

describe('ops console', () => {
  it('signs staff in with their own accounts, refuses forms without their CSRF token, and signs them out', async () => {
    const { email } = await account(tenant, ['coordinator']);
    const person = visitor();
    const page = await person.go('GET', '/console/sign-in');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<label for="email">Email</label>');

    // A sign-in posted from elsewhere (no token, or another's) is refused, and opens no session.
    const forged = visitor();
    expect((await forged.go('POST', '/console/sign-in', { email, password: PASSWORD })).status).toBe(403);
    expect(forged.cookies.has('flowdesk_session')).toBe(false);

    const wrong = await person.go('POST', '/console/sign-in', {
      _csrf: person.csrf(),
      email,
      password: 'not it at all',
    });
    const nobody = await person.go('POST', '/console/sign-in', {
      _csrf: person.csrf(),
      email: 'nobody@nowhere.example',
      password: PASSWORD,
    });
    expect([wrong.status, nobody.status]).toEqual([401, 401]);
    expect(wrong.text).toContain('do not match an account');
    expect(nobody.text).toContain('do not match an account');

    const ok = await person.go('POST', '/console/sign-in', {
      _csrf: person.csrf(),
      email,
      password: PASSWORD,
    });
    expect(ok).toMatchObject({ status: 303, location: '/console' });
    const cookie = ok.headers.getSetCookie().find((c) => c.startsWith('flowdesk_session='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).toMatch(/Path=\/console/);
    expect(cookie).not.toMatch(/Secure/);
    const stored = await api.deps.db
      .selectFrom('staff_users')
      .select('password_hash')
      .where('email', '=', email)
      .executeTakeFirstOrThrow();
    expect(stored.password_hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(stored.password_hash).not.toContain(PASSWORD);

    const home = await person.go('GET', '/console/needs-me');
    expect(home.status).toBe(200);
    // A change without the session's token is refused with a page that says what to do, and changes nothing.
    const { childId } = await failingChild(tenant.tenantId, `csrf-${Date.now()}`, 'SMTP 451');
    const refused = await person.go('POST', '/console/needs-me/assign', {
      item: `flow:${childId}`,
      to: 'me',
    });
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('security token did not match');
    expect(
      await api.deps.db
        .selectFrom('console_assignments')
        .selectAll()
        .where('item_key', '=', `flow:${childId}`)
        .execute(),
    ).toEqual([]);
    const taken = await person.go('POST', '/console/needs-me/assign', {
      _csrf: person.csrf(),
      item: `flow:${childId}`,
      to: 'me',
    });
    expect(taken.status).toBe(303);
    expect(
      await api.deps.db
        .selectFrom('console_assignments')
        .select('item_key')
        .where('item_key', '=', `flow:${childId}`)
        .execute(),
    ).toHaveLength(1);

    expect((await person.go('POST', '/console/sign-out', { _csrf: person.csrf() })).status).toBe(303);
    expect((await person.go('GET', '/console/needs-me')).location).toBe(
      '/console/sign-in?next=%2Fconsole%2Fneeds-me',
    );
  });

  it('lists one item per problem, retrying steps included, with root, step, age, attempt and last error; nothing of another tenant', async () => {
    const name = `list-${Date.now()}`;
    const { parentId, childId } = await failingChild(tenant.tenantId, name, 'SMTP 451 mailbox busy');
    await failingChild(other.tenantId, `theirs-${Date.now()}`, 'their secret trouble');
    const { email } = await account(tenant, ['coordinator']);
    const person = await signedIn(email);
    const page = (await person.go('GET', '/console/needs-me?kind=retrying')).text;
    // The parent shows its child's trouble on its row; the list shows it once, under the root flow.
    expect(page.split(`value="flow:${childId}"`)).toHaveLength(2);
    expect(page).not.toContain(`value="flow:${parentId}"`);
    expect(page).toContain(`proposalToPayment ${name}`);
    expect(page).toContain('sendInvoice');
    expect(page).toContain('SMTP 451 mailbox busy');
    expect(page).toMatch(/<dt>Attempt<\/dt><dd>3<\/dd>/);
    expect(page).not.toContain('their secret trouble');

    // An architect has pages of their own, not the operations list.
    const admin = apiClient(api.url, await tenant.key(['admin']));
    const added = await admin.post('/v1/architects', {
      name: 'Lina Bo Bardi',
      email: `lina-${Date.now()}@architects.example`,
    });
    expect(added.status, added.text).toBe(200);
    const architect = await account(tenant, ['architect'], { architectId: added.body.architectId });
    const theirs = await (await signedIn(architect.email)).go('GET', '/console/needs-me');
    expect(theirs.status).toBe(403);
    expect(theirs.text).toContain('Needs me now is not among your pages; yours: Leads');
    expect(theirs.text).not.toContain(childId);
  });

  it('shows an unapplied payment as an item, and /metrics has the business gauges', async () => {
    const reference = `BANK-${Date.now()}`;
    const held = await recordPayment(api.deps.db, {
      tenantId: tenant.tenantId,
      source: 'bank_transfer',
      externalId: reference,
      amount: 12_345,
      currency: 'EUR',
      receivedAt: new Date(Date.now() - 3_600_000),
      actor: SYSTEM,
    });
    expect(held.outcome).toBe('unapplied');
    const { email } = await account(tenant, ['finance']);
    const page = (await (await signedIn(email)).go('GET', '/console/needs-me?kind=unapplied_payment')).text;
    expect(page).toContain('€123.45 from bank_transfer');
    expect(page).toMatch(/1 h 0 min ago|59 min ago/);

    const metricsOf = async () => (await fetch(`${api.url}/metrics`)).text();
    const value = (text: string, series: string) =>
      Number(new RegExp(`^${series.replace(/[{}".]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');
    const before = await metricsOf();
    const refused = await fetch(`${api.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' },
      body: '{}',
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const after = await metricsOf();
    const series = `flowdesk_webhook_rejections_total{source="stripe",status="${refused.status}"}`;
    expect(value(after, series) - (Number.isNaN(value(before, series)) ? 0 : value(before, series))).toBe(1);
    expect(
      value(after, 'flowdesk_flows{flow_type="invoicePayment",state="retrying"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(value(after, 'flowdesk_attention_oldest_seconds')).toBeGreaterThan(0);
    expect(value(after, 'flowdesk_unapplied_payments{currency="EUR"}')).toBeGreaterThanOrEqual(1);
    expect(value(after, 'flowdesk_unapplied_payments_amount{currency="EUR"}')).toBeGreaterThanOrEqual(12_345);
  });

  it('in a real browser: sign in, find the item, take it, and see a new problem arrive without reloading', async () => {
    const { email } = await account(tenant, ['admin']);
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
      await signInInBrowser(page, `${api.url}/console/needs-me`, email);
      const first = await failingChild(tenant.tenantId, `browser-${Date.now()}`, 'Stripe 500');
      await page.reload();
      const item = page.locator('li.item', { has: page.locator(`input[value="flow:${first.childId}"]`) });
      await expect.poll(() => item.count()).toBe(1);
      await item.getByRole('button', { name: 'Take it' }).click();
      await expect.poll(() => item.locator('dd', { hasText: 'you' }).count()).toBe(1);

      // A new problem is published while the page stays open: it arrives over the stream.
      const second = await failingChild(tenant.tenantId, `live-${Date.now()}`, 'courier API down');
      await expect
        .poll(() => page.locator(`input[value="flow:${second.childId}"]`).count(), { timeout: 10_000 })
        .toBe(1);
      if (process.env.SCREENSHOTS) {
        mkdirSync('docs/screenshots', { recursive: true });
        await page.screenshot({ path: 'docs/screenshots/console-needs-me.png', fullPage: true });
      }
    } finally {
      await browser.close();
    }
  });

  it('in a real browser: bulk-pauses three flows, each reported, and resumes them', async () => {
    const batch = `bulk-${Date.now()}`;
    const ids = [1, 2, 3].map((n) => `awaits:${tenant.slug}:${batch}-${n}`);
    for (const flowId of ids)
      await worker.client.workflow.start('awaitsAnswer', {
        taskQueue: worker.taskQueue,
        workflowId: flowId,
        args: [{ tenantId: tenant.tenantId, businessKey: flowId.split(':').at(-1) }],
      });
    for (const flowId of ids) await waitForFlowRow(api.deps.db, flowId, (row) => row?.state === 'waiting');
    const { email } = await account(tenant, ['coordinator']);
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
      await signInInBrowser(page, `${api.url}/console/flows?q=${batch}`, email);
      for (const action of ['pause', 'resume'] as const) {
        for (const flowId of ids)
          await page.getByRole('checkbox', { name: `Pick awaitsAnswer ${flowId.split(':').at(-1)}` }).check();
        await page.getByLabel('Action').selectOption(action);
        await page.getByLabel('Reason').fill(`customer asked to ${action}`);
        await page.getByRole('button', { name: 'Do it' }).click();
        await expect.poll(() => page.locator('#bulk-result h2').textContent()).toBe(`${action}: 3 of 3 done`);
        for (const flowId of ids)
          expect(await page.locator(`#bulk-result li[data-flow="${flowId}"]`).textContent()).toContain(
            'done',
          );
        if (action === 'pause' && process.env.SCREENSHOTS)
          await page.screenshot({ path: 'docs/screenshots/console-bulk-pause.png', fullPage: true });
        for (const flowId of ids)
          await waitForFlowRow(
            api.deps.db,
            flowId,
            (row) => row?.state === (action === 'pause' ? 'paused' : 'waiting'),
          );
        await page.goto(`${api.url}/console/flows?q=${batch}`);
      }
      // The flow's own page: its step, and the pause and resume on its timeline, with who and why.
      const [first] = ids;
      await page.getByRole('link', { name: `awaitsAnswer ${first?.split(':').at(-1)}` }).click();
      await page.waitForURL(/\/console\/flows\/awaits/);
      expect(await page.locator('table').textContent()).toContain('awaitAnswer');
      const timeline = (await page.locator('#timeline').textContent()) ?? '';
      expect(timeline).toContain('flow.paused by coordinator person — customer asked to pause');
      expect(timeline).toContain('flow.resumed by coordinator person — customer asked to resume');
      expect(
        await page.getByRole('link', { name: 'history in the Temporal UI' }).getAttribute('href'),
      ).toContain(encodeURIComponent(first ?? ''));
      // Another tenant's flow does not exist here.
      const theirs = await failingChild(other.tenantId, `their-flow-${Date.now()}`, 'their own trouble');
      const refused = await page.goto(`${api.url}/console/flows/${encodeURIComponent(theirs.childId)}`);
      expect(refused?.status()).toBe(404);
      expect(await page.content()).not.toContain('their own trouble');
      // Each action is on each flow's history, with who and why.
      const events = await api.deps.db
        .selectFrom('domain_events')
        .select(['flow_id', 'type', 'actor', 'payload'])
        .where('flow_id', 'in', ids)
        .where('type', 'in', ['flow.paused', 'flow.resumed'])
        .execute();
      expect(events).toHaveLength(6);
      expect(events.every((e) => (e.actor as { id: string }).id === email)).toBe(true);
      // Each bulk action is on record: who asked, why, and every flow's answer.
      const bulk = await api.deps.db
        .selectFrom('console_bulk_actions')
        .selectAll()
        .where('tenant_id', '=', tenant.tenantId)
        .where('requested_by', '=', email)
        .orderBy('created_at')
        .execute();
      expect(
        bulk.map((row) => [row.action, row.reason, row.results.length, row.finished_at !== null]),
      ).toEqual([
        ['pause', 'customer asked to pause', 3, true],
        ['resume', 'customer asked to resume', 3, true],
      ]);
    } finally {
      await browser.close();
    }
  });

  it('lets admins change settings through forms over the admin API: the same checks, nothing written on bad input, secrets never shown', async () => {
    const { email } = await account(tenant, ['admin']);
    const admin = await signedIn(email);
    const couriers = await admin.go('GET', '/console/settings/couriers');
    expect(couriers.status).toBe(200);
    expect(couriers.text).toContain('usps');
    expect(couriers.text).toMatch(
      /<label for="setting-couriers-value-trackingUrlTemplate">Tracking url template<\/label>/,
    );

    const code = `ship-${Date.now()}`;
    const bad = await admin.go('POST', '/console/settings/couriers', {
      _csrf: admin.csrf(),
      key: code,
      'value.name': 'Ship Fast',
      'value.trackingUrlTemplate': 'http://track.example/no-placeholder',
      'value.adapter': 'poll',
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('must be an https URL holding {tracking}');
    expect(bad.text).toContain('Nothing was changed');
    const api_ = apiClient(api.url, await tenant.key(['admin']));
    const listed = async () =>
      (await api_.get('/v1/couriers')).body.couriers as { code: string; name: string }[];
    expect((await listed()).some((courier) => courier.code === code)).toBe(false);
    const good = await admin.go('POST', '/console/settings/couriers', {
      _csrf: admin.csrf(),
      key: code,
      'value.name': 'Ship Fast',
      'value.trackingUrlTemplate': 'https://track.example/t/{tracking}',
      'value.adapter': 'poll',
    });
    expect(good).toMatchObject({ status: 303 });
    expect((await listed()).find((courier) => courier.code === code)).toMatchObject({ name: 'Ship Fast' });
    const saved = await api.deps.db
      .selectFrom('domain_events')
      .select('actor')
      .where('tenant_id', '=', tenant.tenantId)
      .where('type', '=', 'courier.saved')
      .where('entity_id', '=', code)
      .execute();
    expect(saved.map((event) => (event.actor as { id: string }).id)).toEqual([email]);

    // A supplier's credentials go in and never come back out: not on its page, not in the list.
    const supplier = `SUP-${Date.now()}`;
    const registered = await admin.go('POST', '/console/settings/suppliers', {
      _csrf: admin.csrf(),
      key: supplier,
      'value.name': 'Panels by Post',
      'value.protocol': 'manual',
      'value.credentials': 'very-secret-credential-42',
      'value.orderEmail': 'orders@panels.example',
      'value.leadTime': '10 days',
    });
    expect(registered.status, registered.text).toBe(303);
    const page = await admin.go('GET', `/console/settings/suppliers?key=${supplier}`);
    expect(page.text).toContain('Panels by Post');
    expect(page.text).toContain('value="10 days"');
    expect(page.text).not.toContain('very-secret-credential-42');
    expect((await api_.get(`/v1/suppliers/${supplier}`)).body).toMatchObject({
      hasCredentials: true,
      leadTime: '10 days',
    });

    // Working hours and SLA grids are a source's whole settings, as the analytics API takes them.
    const sla = await admin.go('GET', '/console/settings/sla');
    const source = /name="key" value="([^"]+)"/.exec(sla.text)?.[1] ?? '';
    const limits = JSON.stringify([
      {
        profile: 'default',
        limits: [{ groupId: 'invoicePayment:sendInvoice', normal: '4:00', urgent: null }],
      },
    ]);
    const grid = await admin.go('POST', '/console/settings/sla', {
      _csrf: admin.csrf(),
      key: source,
      'value.nearFraction': '0.7',
      'value.profiles': limits,
    });
    expect(grid.status, grid.text).toBe(303);
    const read = await api_.get(`/v1/analytics/sources/${source}/settings/sla`);
    expect(read.body).toMatchObject({
      nearFraction: 0.7,
      profiles: [{ profile: 'default', limits: [{ groupId: 'invoicePayment:sendInvoice', normal: '4:00' }] }],
    });

    // Settings are for admins; without the session's token nothing is saved.
    const { email: coordinatorEmail } = await account(tenant, ['coordinator']);
    expect((await (await signedIn(coordinatorEmail)).go('GET', '/console/settings/couriers')).status).toBe(
      403,
    );
    const forged = await admin.go('POST', '/console/settings/couriers', {
      key: code,
      'value.name': 'Forged',
      'value.trackingUrlTemplate': 'https://track.example/t/{tracking}',
      'value.adapter': 'poll',
    });
    expect(forged.status).toBe(403);
    expect((await listed()).find((courier) => courier.code === code)).toMatchObject({ name: 'Ship Fast' });
  });
});
