import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { startFlowStatusRelay } from '../db/analytics/flowStatuses.js';
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

    // An installer of one crew sees that crew's jobs, and no leads.
    const crew = await admin.post('/v1/crews', {
      name: unique('Crew'),
      email: `${unique('crew')}@crews.example`,
      jobsPerDay: 2,
      weeklyCapacity: 10,
    });
    expect(crew.status, crew.text).toBe(200);
    const { email: installerEmail } = await account(api.url, tenant, ['installer'], {
      crewId: crew.body.crewId,
    });
    const installer = await signedIn(api.url, installerEmail, '/console/jobs');
    expect((await installer.go('GET', '/console/jobs')).status).toBe(200);
    expect((await installer.go('GET', '/console/leads')).status).toBe(403);
  });
});
