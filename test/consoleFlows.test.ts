import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { startFlowStatusRelay } from '../db/analytics/flowStatuses.js';
import { flowdeskSourceId } from '../db/analytics/sources.js';
import { recordPayment } from '../db/payments.js';
import { SYSTEM } from '../domain/flow.js';
import { createLogger } from '../runtime/logger.js';
import { type LegacySimulator, startLegacySimulator } from '../scripts/simulators/legacy.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { launchChromium } from './helpers/browser.js';
import { testConfig } from './helpers/config.js';
import { account, signedIn, signInInBrowser } from './helpers/console.js';
import { waitForFlowRow } from './helpers/flows.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

/**
 * The console against real flows: a real worker runs Flowdesk's workflows and activities, an automation step
 * talks to the legacy system's simulator, leads belong to architects.
 */
let api: TestApi;
let smtp: SmtpSink;
let legacy: LegacySimulator;
let worker: TestWorker;
let tenant: TestTenant;
let coordinator: ReturnType<typeof apiClient>;
let stopRelay: () => Promise<void>;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now()}-${++counter}`;

beforeAll(async () => {
  [smtp, legacy] = await Promise.all([startSmtpSink(), startLegacySimulator({ token: 'legacy-test-token' })]);
  const taskQueue = `console-${Date.now()}`;
  api = await startTestApi({ env: { TEMPORAL_TASK_QUEUE: taskQueue } });
  const config = testConfig({
    SMTP_URL: smtp.url,
    LEGACY_URL: legacy.url,
    LEGACY_TOKEN: 'legacy-test-token',
    PUBLIC_URL: api.url,
  });
  worker = await startTestWorker({
    taskQueue,
    activities: createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') }),
  });
  stopRelay = startFlowStatusRelay(api.deps.db, 100, () => {});
  tenant = await createTestTenant(api.deps.db);
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));
});

afterAll(async () => {
  await stopRelay?.();
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), legacy?.stop()]);
});

/** An automation step whose device the legacy system does not know: it fails and needs a person. */
async function refusedAutomationStep() {
  const started = await coordinator.post('/v1/automation-steps', {
    shipmentItemId: unique('ITEM'),
    scenario: 'sensor_vendor_first_time',
    device: { serial: 'UNKNOWN-7', model: 'TempSense 3', companyId: 'ACME', assetId: unique('ASSET') },
  });
  expect(started.status, started.text).toBe(201);
  const { flowId } = started.body as { flowId: string };
  await waitForFlowRow(api.deps.db, flowId, (row) => row?.state === 'needs_attention');
  return flowId;
}

const flowPage = (flowId: string) => `/console/flows/${encodeURIComponent(flowId)}`;

describe('ops console on real flows', () => {
  it('offers the decisions a flow allows as forms from its typed decisions, and refuses bad input naming the field, changing nothing', async () => {
    const flowId = await refusedAutomationStep();
    const { email } = await account(api.url, tenant, ['coordinator']);
    const person = await signedIn(api.url, email, flowPage(flowId));
    const page = (await person.go('GET', flowPage(flowId))).text;
    // The retry's input (AutomationRetryInput: corrections to the device) and the fallback, each a form.
    expect(page).toContain('Needs a decision: runScenario');
    expect(page).toContain('HTTP 422');
    expect(page).toMatch(/<label for="decide-retry-input-device-serial">Device serial \(optional\)<\/label>/);
    expect(page).toMatch(/<legend>Fallback<\/legend>/);
    expect(page).toMatch(/<label for="decide-fallback-note">Why/);

    const tooLong = await person.go('POST', `${flowPage(flowId)}/decide`, {
      _csrf: person.csrf(),
      action: 'retry',
      'input.device.serial': 'S'.repeat(101),
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.text).toMatch(/Device serial\s*:\s*Too big/);
    const noReason = await person.go('POST', `${flowPage(flowId)}/decide`, {
      _csrf: person.csrf(),
      action: 'fallback',
    });
    expect(noReason.status).toBe(400);
    expect(noReason.text).toContain('fallback needs a note saying why');
    const forged = await person.go('POST', `${flowPage(flowId)}/decide`, {
      action: 'retry',
      'input.device.serial': 'SN-FORGED',
    });
    expect(forged.status).toBe(403);
    const { email: viewerEmail } = await account(api.url, tenant, ['viewer']);
    const viewer = await signedIn(api.url, viewerEmail, flowPage(flowId));
    const notAllowed = await viewer.go('POST', `${flowPage(flowId)}/decide`, {
      _csrf: viewer.csrf(),
      action: 'retry',
    });
    expect(notAllowed.status).toBe(403);

    // Nothing was decided: the flow still waits for a person, and the legacy system saw no other serial.
    const row = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
    expect(row?.state).toBe('needs_attention');
    const decided = await api.deps.db
      .selectFrom('domain_events')
      .select('type')
      .where('flow_id', '=', flowId)
      .where('type', '=', 'flow.attention.resolved')
      .execute();
    expect(decided).toEqual([]);
    expect(legacy.calls.filter((call) => call.correlationId?.startsWith(`${flowId}/`))).toHaveLength(1);
  });

  it('in a real browser: finds the flow that needs attention, opens it, retries it with corrected input, and sees it continue live', async () => {
    const flowId = await refusedAutomationStep();
    const { email } = await account(api.url, tenant, ['coordinator']);
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
      await signInInBrowser(page, `${api.url}/console/needs-me?kind=attention`, email);
      const item = page.locator('li.item', { has: page.locator(`input[value="flow:${flowId}"]`) });
      await expect.poll(() => item.count()).toBe(1);
      expect(await item.textContent()).toContain('HTTP 422');
      await item.getByRole('link').first().click();
      await page.waitForURL((url) => url.pathname === flowPage(flowId));
      if (process.env.SCREENSHOTS)
        await page.screenshot({ path: 'docs/screenshots/console-flow.png', fullPage: true });

      // The legacy system answers slowly now: the retried step is still running when the page comes back.
      legacy.faults.lagMs = 2_000;
      const serial = unique('SN-FIXED');
      await page.getByLabel('Device serial').fill(serial);
      await page.locator('#decide-retry-note').fill('the serial was mistyped');
      await page.getByRole('button', { name: 'Retry' }).click();
      await page.waitForURL((url) => url.searchParams.get('decided') === 'retry');
      expect(await page.getByRole('status').first().textContent()).toContain('Decision taken: retry');
      const state = page.locator('#flow-live [data-state]');
      expect(await state.getAttribute('data-state')).not.toBe('completed');
      // Marks this page load: a reload would lose it.
      await page.evaluate('window.stayed = true');
      await expect.poll(() => state.getAttribute('data-state'), { timeout: 20_000 }).toBe('completed');
      expect(await page.evaluate('window.stayed')).toBe(true);
      expect(await page.locator('#timeline').textContent()).toContain(
        'flow.attention.resolved by coordinator person — the serial was mistyped',
      );
      expect([...legacy.devices.values()].filter((registered) => registered.serial === serial)).toHaveLength(
        1,
      );
    } finally {
      legacy.faults.lagMs = 0;
      await browser.close();
    }
  });

  it('shows architects their own leads only, and crews their own jobs only', async () => {
    const admin = apiClient(api.url, await tenant.key(['admin']));
    const architects = await Promise.all(
      ['Lina Bo Bardi', 'Eileen Gray'].map(async (name) => {
        const added = await admin.post('/v1/architects', {
          name,
          email: `${unique('arch')}@architects.example`,
        });
        expect(added.status, added.text).toBe(200);
        return added.body.architectId as string;
      }),
    );
    const leads = await Promise.all(
      architects.map(async (architectId, index) => {
        const leadId = unique('L');
        const customer = index === 0 ? 'Ada Lovelace' : 'Grace Hopper';
        const registered = await coordinator.post('/v1/leads', {
          leadId,
          source: 'architect',
          architectId,
          customer: { name: customer, email: `${leadId.toLowerCase()}@example.com` },
          site: { street: 'Hauptstr. 1', postcode: '10115', city: 'Berlin', country: 'DE' },
          systemSizeKwp: 8,
        });
        expect(registered.status, registered.text).toBe(201);
        return { leadId, customer };
      }),
    );
    const [mine, theirs] = leads as [(typeof leads)[0], (typeof leads)[0]];
    const { email } = await account(api.url, tenant, ['architect'], { architectId: architects[0] });
    const lina = await signedIn(api.url, email, '/console');
    const home = await lina.go('GET', '/console');
    expect(home.location).toBe('/console/leads');
    const list = await lina.go('GET', '/console/leads');
    expect(list.status).toBe(200);
    expect(list.text).toContain(mine.leadId);
    expect(list.text).toContain(mine.customer);
    expect(list.text).not.toContain(theirs.leadId);
    expect(list.text).not.toContain(theirs.customer);
    expect(list.text).not.toContain('href="/console/flows"');
    const own = await lina.go('GET', `/console/leads/${mine.leadId}`);
    expect(own.status).toBe(200);
    const other = await lina.go('GET', `/console/leads/${theirs.leadId}`);
    expect(other.status).toBe(404);
    expect(other.text).not.toContain(theirs.customer);
    for (const path of ['/console/flows', '/console/jobs', '/console/needs-me'])
      expect((await lina.go('GET', path)).status).toBe(403);

    // A coordinator sees every architect's leads.
    const { email: coordinatorEmail } = await account(api.url, tenant, ['coordinator']);
    const all = (await (await signedIn(api.url, coordinatorEmail)).go('GET', '/console/leads')).text;
    expect(all).toContain(mine.leadId);
    expect(all).toContain(theirs.leadId);

    // An installer of one crew sees that crew's jobs, and no leads. The two leads' projects are booked with two
    // crews as the project flow books them (its booking is tested in leadToInstall.test.ts).
    const crews = await Promise.all(
      [1, 2].map(async () => {
        const crew = await admin.post('/v1/crews', {
          name: unique('Crew'),
          email: `${unique('crew')}@crews.example`,
          jobsPerDay: 2,
          weeklyCapacity: 10,
        });
        expect(crew.status, crew.text).toBe(200);
        return crew.body.crewId as string;
      }),
    );
    const installAt = new Date(Date.now() + 7 * 86_400_000);
    for (const [index, lead] of [mine, theirs].entries()) {
      const { id: leadRowId } = await api.deps.db
        .selectFrom('leads')
        .select('id')
        .where('tenant_id', '=', tenant.tenantId)
        .where('lead_key', '=', lead.leadId)
        .executeTakeFirstOrThrow();
      await api.deps.db
        .insertInto('projects')
        .values({
          tenant_id: tenant.tenantId,
          project_key: lead.leadId,
          lead_id: leadRowId,
          state: 'SCHEDULED',
          title: `Job for ${lead.customer}`,
          currency: 'EUR',
          contract_lines: JSON.stringify([]),
          contract_total: 300_000,
          crew_id: crews[index] ?? null,
          installation_at: installAt,
          installation_day: installAt.toISOString().slice(0, 10),
          installation_tentative: false,
          flow_id: `lead:${tenant.slug}:${lead.leadId}`,
        })
        .execute();
    }
    const { email: installerEmail } = await account(api.url, tenant, ['installer'], { crewId: crews[0] });
    const installer = await signedIn(api.url, installerEmail, '/console/jobs');
    const jobs = await installer.go('GET', '/console/jobs');
    expect(jobs.status).toBe(200);
    expect(jobs.text).toContain(`Job for ${mine.customer}`);
    expect(jobs.text).not.toContain(`Job for ${theirs.customer}`);
    expect((await installer.go('GET', '/console/leads')).status).toBe(403);

    // The crew works its job from the page, as through /v1/jobs; another crew's job is not theirs to touch.
    const stateOf = async (leadKey: string) =>
      api.deps.db
        .selectFrom('projects')
        .select(['state', 'open_problem', 'completion_notes'])
        .where('tenant_id', '=', tenant.tenantId)
        .where('project_key', '=', leadKey)
        .executeTakeFirstOrThrow();
    const act = (leadKey: string, kind: string, form: Record<string, string> = {}) =>
      installer.go('POST', `/console/jobs/${leadKey}/${kind}`, { _csrf: installer.csrf(), ...form });
    const notMine = await act(theirs.leadId, 'start');
    expect(notMine.status).toBe(404);
    expect((await stateOf(theirs.leadId)).state).toBe('SCHEDULED');
    expect(await act(mine.leadId, 'start')).toMatchObject({
      status: 303,
      location: '/console/jobs?done=start',
    });
    expect((await stateOf(mine.leadId)).state).toBe('IN_PROGRESS');
    expect((await act(mine.leadId, 'problem', { description: '' })).status).toBe(400);
    expect((await act(mine.leadId, 'problem', { description: 'The roof is wet' })).status).toBe(303);
    const refused = await act(mine.leadId, 'complete', { done: 'panels mounted' });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('a problem is open: The roof is wet');
    expect(await stateOf(mine.leadId)).toMatchObject({
      state: 'IN_PROGRESS',
      open_problem: 'The roof is wet',
    });
  });

  it('draws the dashboard from a snapshot computed in the background: flows per day, success per type, time per stage, SLA, unapplied payments', async () => {
    const db = api.deps.db;
    const sourceId = await flowdeskSourceId(db, tenant.tenantId);
    const admin = apiClient(api.url, await tenant.key(['admin']));
    const sla = await admin.put(`/v1/analytics/sources/${sourceId}/settings/sla`, {
      nearFraction: 0.8,
      profiles: [
        {
          profile: 'default',
          limits: [{ groupId: 'automationStep:runScenario', normal: '1:00', urgent: null }],
        },
      ],
    });
    expect(sla.status, sla.text).toBe(200);
    const held = await recordPayment(db, {
      tenantId: tenant.tenantId,
      source: 'bank_transfer',
      externalId: unique('BANK'),
      amount: 5_000,
      currency: 'EUR',
      receivedAt: new Date(),
      actor: SYSTEM,
    });
    expect(held.outcome).toBe('unapplied');
    const flowId = await refusedAutomationStep();
    const retried = await coordinator.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'retry',
      input: { device: { serial: unique('SN-FIXED') } },
    });
    expect(retried.status, retried.text).toBe(200);
    await waitForFlowRow(db, flowId, (row) => row?.state === 'completed');
    // The relay has put the completed automation step on the status log.
    await expect
      .poll(
        async () =>
          (
            await db
              .selectFrom('status_events')
              .select('id')
              .where('source_id', '=', sourceId)
              .where('status_id', '=', 'automationStep:completed')
              .execute()
          ).length,
      )
      .toBeGreaterThanOrEqual(1);

    const { email } = await account(api.url, tenant, ['viewer']);
    const person = await signedIn(api.url, email, '/console/dashboard');
    const first = await person.go('GET', '/console/dashboard');
    expect(first.status).toBe(200);
    expect(first.text).toContain('The figures are being computed');
    let page = '';
    await expect
      .poll(
        async () => {
          page = (await person.go('GET', '/console/dashboard')).text;
          return page.includes('class="dashboard"');
        },
        { timeout: 20_000 },
      )
      .toBe(true);
    const total = (series: string) =>
      [...page.matchAll(new RegExp(`<td data-series="${series}">(\\d+)</td>`, 'g'))].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
    // As the tenant's flows are: its automation steps needed a person, and the one retried completed.
    const flows = await db
      .selectFrom('flows')
      .select(['flow_type', 'state', 'ended_at'])
      .where('tenant_id', '=', tenant.tenantId)
      .execute();
    const ended = flows.filter((flow) => flow.flow_type === 'automationStep' && flow.ended_at);
    const completed = ended.filter((flow) => flow.state === 'completed');
    expect(completed.length).toBeGreaterThanOrEqual(1);
    expect(page.match(/<tr data-day=/g)).toHaveLength(31);
    expect(total('started')).toBe(flows.length);
    expect(total('completed')).toBe(flows.filter((flow) => flow.state === 'completed').length);
    expect(total('attention')).toBeGreaterThanOrEqual(
      flows.filter((flow) => flow.flow_type === 'automationStep').length,
    );
    expect(page).toMatch(/<polyline[^>]+stroke="#0b57d0"/);
    expect(page).toContain(
      `<li data-flow-type="automationStep">automationStep: ${completed.length} of ${ended.length} completed</li>`,
    );
    expect(page).toContain('automationStep: runScenario');
    expect(page).toMatch(/<li data-sla="ok">.*Within SLA: [1-9]\d*/s);
    expect(page).toMatch(/<li data-currency="EUR">1 payment, €50\.00<\/li>/);
    // Read again within the minute: the same snapshot, not computed again.
    const computedAt = await db
      .selectFrom('dashboard_snapshots')
      .select('computed_at')
      .where('tenant_id', '=', tenant.tenantId)
      .executeTakeFirstOrThrow();
    await person.go('GET', '/console/dashboard');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(
      (
        await db
          .selectFrom('dashboard_snapshots')
          .select('computed_at')
          .where('tenant_id', '=', tenant.tenantId)
          .executeTakeFirstOrThrow()
      ).computed_at,
    ).toEqual(computedAt.computed_at);
  });

  it('in a real browser, on a laptop and on a phone: every page fits, every control has a label, and the keyboard reaches it with a visible focus', async () => {
    const flowId = await refusedAutomationStep();
    const { email } = await account(api.url, tenant, ['admin']);
    const browser = await launchChromium();
    try {
      for (const viewport of [
        { name: 'laptop', width: 1280, height: 800 },
        { name: 'phone', width: 390, height: 844 },
      ]) {
        const page = await (await browser.newContext({ viewport })).newPage();
        await signInInBrowser(page, `${api.url}/console/needs-me`, email);
        for (const [name, path] of [
          ['needs-me', '/console/needs-me'],
          ['flows', '/console/flows'],
          ['flow', flowPage(flowId)],
          ['dashboard', '/console/dashboard'],
          ['leads', '/console/leads'],
          ['jobs', '/console/jobs'],
          ['settings', '/console/settings/suppliers'],
          ['settings-sla', '/console/settings/sla'],
        ] as const) {
          await page.goto(`${api.url}${path}`);
          const fits = await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth');
          expect(fits, `${path} is wider than a ${viewport.name}`).toBe(true);
          const unlabelled =
            await page.evaluate(`[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
            .filter((control) => !(control.labels?.length || control.getAttribute('aria-label') || (control.tagName === 'BUTTON' && control.textContent.trim())))
            .map((control) => control.outerHTML)`);
          expect(unlabelled, path).toEqual([]);
          // The first Tab reaches the skip link, the next ones the navigation: each focus is drawn.
          await page.keyboard.press('Tab');
          expect(await page.evaluate('document.activeElement.textContent.trim()')).toBe('Skip to content');
          await page.keyboard.press('Tab');
          const focus = (await page.evaluate(
            'getComputedStyle(document.activeElement).outlineStyle + " " + getComputedStyle(document.activeElement).outlineWidth',
          )) as string;
          expect(focus, path).toMatch(/^solid [1-9]/);
          if (process.env.SCREENSHOTS)
            await page.screenshot({
              path: `docs/screenshots/console-${name}${viewport.name === 'phone' ? '-phone' : ''}.png`,
              fullPage: true,
            });
        }
      }
    } finally {
      await browser.close();
    }
  });
});
