import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { startFlowStatusRelay } from '../db/analytics/flowStatuses.js';
import { expiringUrl } from '../integrations/links/expiringLinks.js';
import { createLogger } from '../runtime/logger.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { launchChromium } from './helpers/browser.js';
import { testConfig } from './helpers/config.js';
import { signingLinkFor, submitSigningForm, waitForFlowRow } from './helpers/flows.js';
import { recordHistories } from './helpers/histories.js';
import { CONTRACT, flowPath, projectHelpers, TEST_PROJECT_SETTINGS, unique } from './helpers/projects.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { openStream } from './helpers/sse.js';
import { type StripeMock, startStripeMock } from './helpers/stripeMock.js';
import { supplierSimulators } from './helpers/suppliers.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const WEBHOOK_SECRET = 'whsec_test_projects';
const simulators = supplierSimulators();
let api: TestApi;
let smtp: SmtpSink;
let stripeMock: StripeMock;
let worker: TestWorker;
let tenant: TestTenant;
let admin: ReturnType<typeof apiClient>;
let coordinator: ReturnType<typeof apiClient>;
let warehouse: ReturnType<typeof apiClient>;
let installer: ReturnType<typeof apiClient>;
let architect: ReturnType<typeof apiClient>;
let architectId: string;
let panelSku: string;
let inverterSku: string;
const CREW_EMAIL = 'crew@installers.example';
let stopRelay: (() => Promise<void>) | undefined;
const relayErrors: unknown[] = [];

beforeAll(async () => {
  [smtp, stripeMock] = await Promise.all([startSmtpSink(), startStripeMock()]);
  const taskQueue = `projects-${Date.now()}`;
  const env = {
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_API_URL: stripeMock.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    TEMPORAL_TASK_QUEUE: taskQueue,
  };
  api = await startTestApi({ env });
  const config = testConfig({ ...env, SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  worker = await startTestWorker({
    taskQueue,
    activities: createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') }),
  });
  // The worker's relay of flow events to the status log, as a worker process runs it.
  stopRelay = startFlowStatusRelay(api.deps.db, 100, (error) => relayErrors.push(error));
  tenant = await createTestTenant(api.deps.db);
  admin = apiClient(api.url, await tenant.key(['admin']));
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));
  warehouse = apiClient(api.url, await tenant.key(['warehouse']));

  const crewId = await setUpTenant(CREW_EMAIL);
  ({ panels: panelSku, inverters: inverterSku } = (await twoProducers()).skus);

  installer = apiClient(api.url, await keyFor(['installer'], { crewId }));
  const added = await admin.post('/v1/architects', { name: 'Zaha Hadid', email: 'zaha@architects.example' });
  expect(added.status, added.text).toBe(200);
  architectId = added.body.architectId;
  architect = apiClient(api.url, await keyFor(['architect'], { architectId }));
});

afterAll(async () => {
  await stopRelay?.();
  await simulators.stopAll();
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), stripeMock?.stop()]);
});

const project = projectHelpers(() => ({
  api,
  smtp,
  tenant,
  admin,
  coordinator,
  warehouse,
  simulators,
  stripeWebhookSecret: WEBHOOK_SECRET,
}));
const {
  setUpTenant,
  keyFor,
  twoProducers,
  newLead,
  configuratorLink,
  configurator,
  pay,
  waitForOrders,
  bookIn,
  chain,
  toConfigurator,
  toLock,
  emailsTo,
  cancelFlow,
  projectRow,
} = project;

describe('lead to installation', () => {
  it('takes an architect’s lead to a closed project: contract, advance, configurator, two producers at once, crew, final invoice', async () => {
    const lead = newLead();
    const { email } = lead.customer;
    // A manager watching the own flows' live stream hears this flow's steps as they happen.
    const stream = await openStream(`${api.url}/v1/stream/orders`, {
      authorization: `Bearer ${await tenant.key(['viewer'])}`,
    });
    await stream.next((e) => e.comment === 'connected');
    const registered = await architect.post('/v1/leads', lead);
    expect(registered.status, registered.text).toBe(201);
    const { flowId } = registered.body;
    expect(flowId).toBe(`lead:${tenant.slug}:${lead.leadId}`);
    expect((await architect.post('/v1/leads', lead)).body).toMatchObject({ flowId, created: false });
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.current_step === 'convertToProject');
    expect((await architect.get(`/v1/leads/${lead.leadId}`)).body).toMatchObject({
      state: 'QUALIFIED',
      architectId,
      qualification: { passed: true, failed: [] },
    });

    const converted = await coordinator.post(`/v1/leads/${lead.leadId}/convert`, CONTRACT);
    expect(converted.status, converted.text).toBe(201);
    expect((await coordinator.post(`/v1/leads/${lead.leadId}/convert`, CONTRACT)).status).toBe(200);

    const link = await signingLinkFor(smtp, email);
    const signed = await submitSigningForm(api.deps.db, link, {
      decision: 'sign',
      signerName: 'Grace Hopper',
      agree: 'yes',
    });
    expect(signed.status).toBe(200);
    // 30 % of the contract's 3,000.
    const advance = await pay(tenant.slug, `${lead.leadId}~advance`, 90_000);

    const customerPage = configurator(await configuratorLink(email));
    const page = await customerPage.page();
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`panel ${panelSku}`);
    expect(html).toContain('€200.00');
    const refused = await customerPage.draft([{ sku: panelSku, quantity: 3 }]);
    expect(refused).toMatchObject({ status: 400, body: { errors: [{ field: 'body.lines.0.quantity' }] } });
    const draft = await customerPage.draft([
      { sku: panelSku, quantity: 20 },
      { sku: inverterSku, quantity: 1 },
    ]);
    expect(draft).toMatchObject({ status: 200, body: { state: 'DRAFT', total: 550_000 } });
    expect((await customerPage.lock()).body).toMatchObject({ state: 'LOCKED', total: 550_000 });
    expect((await customerPage.lock()).status).toBe(200);
    expect((await customerPage.draft([{ sku: panelSku, quantity: 40 }])).status).toBe(409);

    // One order per producer, at once; the warehouse books each in when it has shipped.
    const orders = await waitForOrders(lead.leadId, 2);
    // The project's row shows its children once it has published them (a moment after they start, under load).
    await expect
      .poll(async () => {
        const status = await coordinator.get(flowPath(flowId));
        return status.body.steps.find((s: { name: string }) => s.name === 'producerOrders');
      })
      .toMatchObject({
        children: expect.arrayContaining(orders.map((o) => expect.objectContaining({ flowId: o.flow_id }))),
      });
    for (const order of orders) await bookIn(order);

    const jobSheet = await smtp.waitFor(
      (m) => m.envelope.to.includes(CREW_EMAIL) && (m.parsed.text ?? '').includes(`Job ${lead.leadId}`),
    );
    expect(jobSheet.parsed.text).toContain(`20 × panel ${panelSku}`);
    await smtp.waitFor(
      (m) => m.envelope.to.includes(email) && /^Your installation on/.test(m.parsed.subject ?? ''),
    );

    const jobs = await installer.get('/v1/jobs');
    expect(jobs.body.jobs).toEqual(
      expect.arrayContaining([expect.objectContaining({ projectId: lead.leadId, confirmed: true })]),
    );
    expect((await installer.post(`/v1/jobs/${lead.leadId}/start`)).status).toBe(200);
    const done = await installer.post(`/v1/jobs/${lead.leadId}/complete`, {
      checklist: { panels: true, inverter: true, handover: true },
      notes: 'All good.',
    });
    expect(done.status, done.text).toBe(200);

    // The contract's 3,000 and the selection's 5,500, less the advance of 900.
    const final = await pay(tenant.slug, `${lead.leadId}~final`, 760_000);
    const result = await worker.client.workflow.getHandle(flowId).result();
    expect(result).toMatchObject({
      outcome: 'closed',
      projectKey: lead.leadId,
      orders: 2,
      invoices: [advance, final],
    });
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'completed');
    recordHistories({ leadToInstall: flowId });

    expect((await architect.get(`/v1/leads/${lead.leadId}`)).body).toMatchObject({
      state: 'WON',
      project: { projectId: lead.leadId, state: 'CLOSED' },
    });
    const selections = await api.deps.db
      .selectFrom('panel_selections')
      .innerJoin('projects', 'projects.id', 'panel_selections.project_id')
      .select(['panel_selections.state', 'panel_selections.version'])
      .where('projects.project_key', '=', lead.leadId)
      .execute();
    expect(selections).toEqual([{ state: 'INSTALLED', version: 1 }]);
    const events = await chain(flowId);
    for (const type of [
      'lead.created',
      'lead.qualified',
      'lead.converted',
      'project.created',
      'project.confirmed',
      'panel.selection.locked',
      'logistics.delivery.dueSoon',
      'project.installation.started',
      'project.installation.completed',
      'project.closed',
    ])
      expect(
        events.filter((candidate) => candidate === type),
        type,
      ).toHaveLength(1);
    expect(events.filter((type) => type === 'supplier.order.created')).toHaveLength(2);
    expect(events.filter((type) => type === 'project.scheduled')).toHaveLength(2);
    // One trace for the whole chain: the children's own events carry the lead's flow id too.
    for (const type of ['contract.signed', 'invoice.issued', 'payment.received', 'supplier.order.received'])
      expect(events, type).toContain(type);
    expect(events.filter((type) => type === 'payment.received')).toHaveLength(2);
    const timeline = (await coordinator.get(`${flowPath(flowId)}/events`)).body.events;
    expect(timeline.find((event: { type: string }) => event.type === 'lead.converted')).toMatchObject({
      schemaVersion: 1,
      meta: { traceId: flowId },
      entity: { type: 'lead', id: lead.leadId },
      actor: { type: 'user' },
    });
    const sent = await api.deps.db
      .selectFrom('emails')
      .select('idempotency_key')
      .where('tenant_id', '=', tenant.tenantId)
      .where('to_address', '=', email)
      .execute();
    expect(smtp.messages.filter((m) => m.envelope.to.includes(email))).toHaveLength(sent.length);

    // Its steps fed the status log of the tenant's own source: the lead's cycles come from the same engine as a
    // CRM's stage times, with the business's own KPIs beside them.
    const ownOrder = async () =>
      (await coordinator.get('/v1/analytics/orders?limit=200')).body.orders.find(
        (o: { externalId: string }) => o.externalId === flowId,
      );
    await expect.poll(async () => (await ownOrder())?.status.id).toBe('leadToInstall:completed');
    expect(relayErrors).toEqual([]);
    const own = await ownOrder();
    expect(
      own.cycles.map((c: { code: string; endedAt: string | null }) => [c.code, c.endedAt !== null]),
    ).toEqual([
      ['lead_to_lock', true],
      ['lock_to_scheduled', true],
      ['scheduled_to_done', true],
    ]);
    const steps = (await coordinator.get(`/v1/analytics/orders/${own.id}/timeline`)).body.intervals.map(
      (i: { statusId: string }) => i.statusId,
    );
    expect(steps).toEqual(
      expect.arrayContaining([
        'leadToInstall:started',
        'leadToInstall:qualifyLead',
        'leadToInstall:selectionLocked',
        'leadToInstall:selectionLocked.done',
        'leadToInstall:installation.done',
      ]),
    );
    const figures = (await coordinator.get('/v1/analytics/kpis')).body;
    expect(
      figures.cycles.map((c: { code: string; all: { completed: number } }) => [c.code, c.all.completed]),
    ).toEqual([
      ['lead_to_lock', 1],
      ['lock_to_scheduled', 1],
      ['scheduled_to_done', 1],
    ]);
    const heard = stream.events
      .filter((e) => e.event === 'order_updated')
      .map((e) => JSON.parse(e.data ?? '{}'))
      .filter((u) => u.externalOrderId === flowId);
    expect(heard.map((u) => u.statusId)).toEqual(
      expect.arrayContaining(['leadToInstall:started', 'leadToInstall:completed']),
    );
    expect(new Set(heard.map((u) => u.orderId))).toEqual(new Set([own.id]));
    await stream.close();
    expect(figures.flowdesk).toMatchObject({
      onTimeDelivery: { completed: 1, onTime: 1, pct: 100 },
      firstPassConfiguration: { locked: 1, firstPass: 1, pct: 100 },
    });
  }, 120_000);

  it('shows an architect their own leads only, and nothing of another architect’s', async () => {
    const other = await admin.post('/v1/architects', {
      name: 'Frank Gehry',
      email: 'frank@architects.example',
    });
    const otherArchitect = apiClient(
      api.url,
      await keyFor(['architect'], { architectId: other.body.architectId }),
    );
    const mine = newLead();
    const theirs = newLead();
    expect((await architect.post('/v1/leads', mine)).status).toBe(201);
    expect((await otherArchitect.post('/v1/leads', theirs)).status).toBe(201);
    const listed = (await architect.get('/v1/leads?limit=100')).body.leads.map(
      (l: { leadId: string }) => l.leadId,
    );
    expect(listed).toContain(mine.leadId);
    expect(listed).not.toContain(theirs.leadId);
    expect((await architect.get(`/v1/leads/${theirs.leadId}`)).status).toBe(404);
    expect(
      (await architect.post('/v1/leads', { ...newLead(), architectId: other.body.architectId })).status,
    ).toBe(400);
    // Read only: an architect converts nothing and loses nothing.
    expect((await architect.post(`/v1/leads/${mine.leadId}/convert`, CONTRACT)).status).toBe(403);
    expect((await architect.post(`/v1/leads/${mine.leadId}/lose`, { reason: 'no' })).status).toBe(403);
    const all = (await coordinator.get('/v1/leads?limit=100')).body.leads.map(
      (l: { leadId: string }) => l.leadId,
    );
    expect(all).toEqual(expect.arrayContaining([mine.leadId, theirs.leadId]));
    for (const lead of [mine, theirs])
      expect((await coordinator.post(`/v1/leads/${lead.leadId}/lose`, { reason: 'test over' })).status).toBe(
        200,
      );
  });

  it('asks a coordinator about a lead the rules do not qualify, and ends a lost one', async () => {
    const outside = newLead({ site: { street: 'Rue 1', postcode: '75001', city: 'Paris', country: 'FR' } });
    const registered = await coordinator.post('/v1/leads', outside);
    const flowId = registered.body.flowId;
    const asking = await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
    expect(asking.attention).toMatchObject({
      reason: 'qualification_needed',
      options: ['qualify', 'disqualify'],
    });
    expect((await coordinator.post(`/v1/leads/${outside.leadId}/convert`, CONTRACT)).status).toBe(409);
    const decided = await coordinator.post(`${flowPath(flowId)}/resolve`, {
      action: 'qualify',
      note: 'we go to Paris',
    });
    expect(decided.status, decided.text).toBe(200);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.current_step === 'convertToProject');
    expect((await coordinator.get(`/v1/leads/${outside.leadId}`)).body.state).toBe('QUALIFIED');

    const lost = await coordinator.post(`/v1/leads/${outside.leadId}/lose`, {
      reason: 'went with a competitor',
    });
    expect(lost.body).toMatchObject({ state: 'LOST', lostReason: 'went with a competitor' });
    expect(await worker.client.workflow.getHandle(flowId).result()).toMatchObject({ outcome: 'lost' });
    expect((await coordinator.post(`/v1/leads/${outside.leadId}/convert`, CONTRACT)).status).toBe(409);
  });
  it('cancels a project mid-way: open orders withdrawn at their producers, the paid advance credited, everyone told once', async () => {
    const { skus } = await twoProducers({ schedule: { accepted: 100 } }, { schedule: { accepted: 100 } });
    const { lead, email, flowId } = await toLock(skus, { architectId });
    const orders = await waitForOrders(lead.leadId, 2);
    for (const order of orders)
      await waitForFlowRow(api.deps.db, order.flow_id, (r) => r?.current_step === 'awaitShipment');
    await cancelFlow(flowId);

    const states = await api.deps.db
      .selectFrom('supplier_orders')
      .select('state')
      .where(
        'id',
        'in',
        orders.map((order) => order.id),
      )
      .execute();
    expect(states.map((row) => row.state)).toEqual(['CANCELLED', 'CANCELLED']);
    expect((await projectRow(lead.leadId)).state).toBe('CANCELLED');
    const advance = await api.deps.db
      .selectFrom('invoices')
      .select(['state', 'credit_note_number'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('invoice_key', '=', `${lead.leadId}~advance`)
      .executeTakeFirstOrThrow();
    expect(advance).toMatchObject({ state: 'CANCELLED', credit_note_number: expect.stringMatching(/^CN-/) });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await emailsTo(email, /is cancelled$/)).toHaveLength(1);
    expect(await emailsTo(email, /credit note CN-/)).toHaveLength(1);
    expect(
      await emailsTo('zaha@architects.example', new RegExp(`Project ${lead.leadId} is cancelled`)),
    ).toHaveLength(1);
    const events = await chain(flowId);
    expect(events.filter((type) => type === 'project.cancelled')).toHaveLength(1);
  });

  it('lets a late producer reach the project: the coordinator moves the installation, and the customer hears once', async () => {
    const { skus, inverters } = await twoProducers({}, { schedule: { accepted: 100 }, promiseShipIn: 500 });
    const { lead, email, flowId } = await toLock(skus);
    const orders = await waitForOrders(lead.leadId, 2);
    const late = orders.find((order) => order.order_key.includes(inverters.code));
    if (!late) throw new Error('no order from the late producer');
    await waitForFlowRow(api.deps.db, late.flow_id, (r) => r?.state === 'needs_attention');
    // The producer promises a date two hours on: too late for the installation held at lock.
    const extended = await coordinator.post(`${flowPath(late.flow_id)}/resolve`, {
      action: 'extend',
      extendBy: '2 hours',
      note: 'the producer says two hours',
    });
    expect(extended.status, extended.text).toBe(200);
    const asking = await waitForFlowRow(
      api.deps.db,
      flowId,
      (r) => (r?.attention as { reason?: string } | null)?.reason === 'installation_at_risk',
    );
    expect(asking.attention).toMatchObject({
      step: 'producerOrders',
      options: ['moveInstallation', 'acceptRisk'],
    });
    const withoutNote = await coordinator.post(`${flowPath(flowId)}/resolve`, { action: 'acceptRisk' });
    expect(withoutNote.status).toBe(409);
    expect(withoutNote.body.detail).toContain('needs a note');
    const installAt = new Date(Date.now() + 3 * 3_600_000).toISOString();
    const moved = await coordinator.post(`${flowPath(flowId)}/resolve`, {
      action: 'moveInstallation',
      input: { installAt },
      note: 'after the late inverter',
    });
    expect(moved.status, moved.text).toBe(200);
    await smtp.waitFor(
      (m) => m.envelope.to.includes(email) && m.parsed.subject === 'Your installation has a new date',
    );
    expect((await projectRow(lead.leadId)).installation_at?.toISOString()).toBe(installAt);

    await inverters.simulator.advance(
      [...inverters.simulator.orders.values()][0]?.reference ?? '',
      'shipped',
    );
    for (const order of orders) await bookIn(order);
    await expect
      .poll(async () => (await projectRow(lead.leadId)).installation_tentative, { timeout: 20_000 })
      .toBe(false);
    expect(await emailsTo(email, /^Your installation has a new date$/)).toHaveLength(1);
    expect((await chain(flowId)).filter((type) => type === 'project.rescheduled')).toHaveLength(1);
    await cancelFlow(flowId);
    recordHistories({ 'leadToInstall.late': flowId, 'supplierOrder.rescheduled': late.flow_id });
  });

  it('asks a coordinator when the crews cannot keep the date, and takes an override only with a note', async () => {
    const { skus } = await twoProducers();
    const { lead, flowId } = await toLock(skus);
    const booked = await (async () => {
      for (let tries = 0; tries < 200; tries++) {
        const row = await projectRow(lead.leadId);
        if (row.installation_at && row.crew_id) return row;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error('no tentative booking');
    })();
    // Two other jobs take the crew's day before the goods are in (the crew does two a day).
    const fillers: string[] = [];
    for (const filler of [unique('F'), unique('F')]) {
      const leadRow = await api.deps.db
        .insertInto('leads')
        .values({
          tenant_id: tenant.tenantId,
          lead_key: filler,
          state: 'WON',
          source: 'other',
          customer: JSON.stringify({ name: 'Other', email: 'other@example.com' }),
          site: JSON.stringify({ street: 'x', postcode: '10115', city: 'Berlin', country: 'DE' }),
          flow_id: `lead:${tenant.slug}:${filler}`,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const project = await api.deps.db
        .insertInto('projects')
        .values({
          tenant_id: tenant.tenantId,
          project_key: filler,
          lead_id: leadRow.id,
          state: 'SCHEDULED',
          title: 'Another job',
          currency: 'EUR',
          contract_lines: JSON.stringify([]),
          contract_total: 0,
          crew_id: booked.crew_id,
          installation_at: booked.installation_at ?? new Date(),
          installation_day: (booked.installation_at ?? new Date()).toISOString().slice(0, 10),
          flow_id: `lead:${tenant.slug}:${filler}`,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      fillers.push(project.id);
    }
    try {
      for (const order of await waitForOrders(lead.leadId, 2)) await bookIn(order);
      const asking = await waitForFlowRow(
        api.deps.db,
        flowId,
        (r) => (r?.attention as { reason?: string } | null)?.reason === 'scheduling_conflict',
      );
      expect(asking.attention).toMatchObject({
        step: 'installationScheduled',
        options: ['moveInstallation', 'overrideCapacity'],
        error: expect.stringContaining('has no room'),
      });
      expect(
        (await coordinator.post(`${flowPath(flowId)}/resolve`, { action: 'overrideCapacity' })).status,
      ).toBe(409);
      const override = await coordinator.post(`${flowPath(flowId)}/resolve`, {
        action: 'overrideCapacity',
        note: 'the crew works late that day',
      });
      expect(override.status, override.text).toBe(200);
      await expect
        .poll(async () => (await projectRow(lead.leadId)).installation_tentative, { timeout: 20_000 })
        .toBe(false);
      expect((await projectRow(lead.leadId)).capacity_note).toBe('the crew works late that day');
    } finally {
      await api.deps.db
        .updateTable('projects')
        .set({ state: 'CANCELLED' })
        .where('id', 'in', fillers)
        .execute();
    }
    await cancelFlow(flowId);
  });

  it('sends a fresh configurator link to the customer’s email when an expired one is opened, once per link', async () => {
    const { email, flowId, link } = await toConfigurator();
    const projectId = new URL(link).pathname.split('/').at(-1) ?? '';
    const expired = expiringUrl(
      api.url,
      testConfig().signingSecret ?? '',
      'configure',
      projectId,
      new Date(Date.now() - 1_000),
    );
    for (let opened = 0; opened < 2; opened++) {
      const page = await fetch(expired);
      expect(page.status).toBe(410);
      expect(await page.text()).toContain('We have sent a fresh link to the email address we have for you');
    }
    const forged = await fetch(expired.replace(/token=[^&]+/, 'token=forged'));
    expect(forged.status).toBe(403);
    const fresh = await configuratorLink(email, /^Choose the panels/, 1);
    expect(fresh).not.toBe(link);
    expect((await fetch(fresh)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await emailsTo(email, /^Choose the panels/)).toHaveLength(2);
    await cancelFlow(flowId);
  });
  it('takes a change after the lock to a coordinator: rejected, the selection stays; approved, the orders follow it', async () => {
    const { skus, panels, inverters } = await twoProducers(
      { schedule: { accepted: 100 } },
      { schedule: { accepted: 100 } },
    );
    const { lead, email, flowId, customerPage } = await toLock(skus);
    const orders = await waitForOrders(lead.leadId, 2);
    for (const order of orders)
      await waitForFlowRow(api.deps.db, order.flow_id, (r) => r?.current_step === 'awaitShipment');
    const more = [
      { sku: skus.panels, quantity: 30 },
      { sku: skus.inverters, quantity: 1 },
    ];
    const askForMore = async () => {
      const requested = await customerPage.changeRequest(more, 'the roof has room for ten more');
      expect(requested.status, JSON.stringify(requested.body)).toBe(201);
      expect((await customerPage.changeRequest(more, 'again')).status).toBe(409);
      return waitForFlowRow(
        api.deps.db,
        flowId,
        (r) => (r?.attention as { reason?: string } | null)?.reason === 'change_requested',
      );
    };
    const resolve = (action: string, note: string) =>
      coordinator.post(`${flowPath(flowId)}/resolve`, { action, note });

    expect((await askForMore()).attention).toMatchObject({
      step: 'producerOrders',
      options: ['approveChange', 'rejectChange'],
    });
    expect((await resolve('rejectChange', 'the producer has no more this season')).status).toBe(200);
    await smtp.waitFor((m) => m.envelope.to.includes(email) && m.parsed.subject === 'Your change request');

    await askForMore();
    expect((await resolve('approveChange', 'ten more panels')).status).toBe(200);
    await smtp.waitFor(
      (m) => m.envelope.to.includes(email) && m.parsed.subject === 'Your change request is approved',
    );
    const all = await waitForOrders(lead.leadId, 3);
    const byKey = new Map(all.map((order) => [order.order_key, order]));
    const panelsV1 = [...byKey.keys()].find((key) => key.includes(panels.code) && key.endsWith('.v1')) ?? '';
    const panelsV2 = [...byKey.keys()].find((key) => key.includes(panels.code) && key.endsWith('.v2')) ?? '';
    const inverterOrder = [...byKey.keys()].find((key) => key.includes(inverters.code)) ?? '';
    await expect
      .poll(
        async () =>
          (
            await api.deps.db
              .selectFrom('supplier_orders')
              .select('state')
              .where('order_key', '=', panelsV1)
              .executeTakeFirstOrThrow()
          ).state,
        { timeout: 20_000 },
      )
      .toBe('CANCELLED');
    const v2Lines = await api.deps.db
      .selectFrom('supplier_order_lines')
      .innerJoin('supplier_orders', 'supplier_orders.id', 'supplier_order_lines.order_id')
      .select(['supplier_order_lines.sku', 'supplier_order_lines.quantity'])
      .where('supplier_orders.order_key', '=', panelsV2)
      .execute();
    expect(v2Lines).toEqual([{ sku: skus.panels, quantity: 30 }]);
    const selections = await api.deps.db
      .selectFrom('panel_selections')
      .innerJoin('projects', 'projects.id', 'panel_selections.project_id')
      .select(['panel_selections.version', 'panel_selections.state', 'panel_selections.total'])
      .where('projects.project_key', '=', lead.leadId)
      .orderBy('panel_selections.version')
      .execute();
    expect(selections).toEqual([
      { version: 1, state: 'SUPERSEDED', total: '550000' },
      { version: 2, state: 'LOCKED', total: '750000' },
    ]);

    // The orders in force ship and come in: the set is done with them; the withdrawn one is not waited for.
    for (const { simulator } of [panels, inverters])
      for (const order of simulator.orders.values())
        if (order.status !== 'cancelled') await simulator.advance(order.reference, 'shipped');
    for (const key of [panelsV2, inverterOrder]) {
      const order = byKey.get(key);
      if (order) await bookIn(order);
    }
    await waitForFlowRow(
      api.deps.db,
      flowId,
      (r) =>
        r?.current_step === 'installationScheduled' ||
        r?.current_step === 'deliveryDueSoon' ||
        r?.current_step === 'installation',
    );
    const status = (await coordinator.get(flowPath(flowId))).body;
    const children = status.steps.find((step: { name: string }) => step.name === 'producerOrders').children;
    expect(children.map((child: { state: string }) => child.state).sort()).toEqual([
      'cancelled',
      'completed',
      'completed',
    ]);
    const events = await chain(flowId);
    expect(events.filter((type) => type === 'supplier.orders.adjusted')).toHaveLength(1);
    expect(events.filter((type) => type === 'panel.selection.change.rejected')).toHaveLength(1);
    expect(events.filter((type) => type === 'panel.selection.change.approved')).toHaveLength(1);
    expect(await emailsTo(email, /^Your change request/)).toHaveLength(2);
    await cancelFlow(flowId);
    recordHistories({ 'leadToInstall.changes': flowId });
  });
  it('lets the customer choose in a real browser: autosaved as they type, still there after a reload, final once locked', async () => {
    const { link, customerPage, flowId } = await toConfigurator();
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1000, height: 900 } })).newPage();
      await page.goto(link);
      const panels = page.getByLabel(`Quantity of panel ${panelSku}`);
      const inverter = page.getByLabel(`Quantity of inverter ${inverterSku}`);
      await panels.fill('20');
      await inverter.fill('1');
      await expect.poll(() => page.locator('#saved').textContent()).toMatch(/^Saved /);
      await expect.poll(() => page.locator('#total').textContent()).toBe('€5,500.00');

      await page.reload();
      expect(await panels.inputValue()).toBe('20');
      expect(await inverter.inputValue()).toBe('1');
      expect(await page.locator('#total').textContent()).toBe('€5,500.00');

      // Three panels do not make a pack of two: the page says so, and what was saved stays.
      await panels.fill('3');
      await expect.poll(() => page.locator('#problem').textContent()).toContain('in packs of 2');
      await panels.fill('20');
      await expect.poll(() => page.locator('#saved').textContent()).toMatch(/^Saved /);
      if (process.env.SCREENSHOTS) await page.screenshot({ path: 'docs/screenshots/configurator.png' });

      await page.getByRole('button', { name: 'Lock my selection' }).click();
      await expect.poll(() => page.locator('#state').textContent()).toMatch(/^Locked/);
      expect(await panels.isDisabled()).toBe(true);
      expect(await page.getByRole('button', { name: 'Lock my selection' }).count()).toBe(0);
      // Nothing edits a locked selection, from the page or around it.
      expect((await customerPage.draft([{ sku: panelSku, quantity: 40 }])).status).toBe(409);
      await page.reload();
      expect(await panels.inputValue()).toBe('20');
      expect(await panels.isDisabled()).toBe(true);
      if (process.env.SCREENSHOTS)
        await page.screenshot({ path: 'docs/screenshots/configurator-locked.png' });
      // Saved many times within the minute: on the audit trail once.
      expect((await chain(flowId)).filter((type) => type === 'panel.selection.updated')).toHaveLength(1);
    } finally {
      await browser.close();
    }
  });
  it('reminds the architect of a lead nobody converts, and takes the advance after the lock when the tenant says so', async () => {
    const settings = (body: Record<string, unknown>) =>
      admin.request('PUT', '/v1/settings/projects', { body: { ...TEST_PROJECT_SETTINGS, ...body } });
    expect(
      (await settings({ followUpAfter: '1 second', advance: { percent: 30, after: 'selection_locked' } }))
        .status,
    ).toBe(200);
    try {
      const forgotten = newLead();
      expect((await architect.post('/v1/leads', forgotten)).status).toBe(201);
      const { skus } = await twoProducers();
      const { lead, email, flowId, customerPage } = await toConfigurator({}, { advanceFirst: false });
      // Flows keep the settings they started with.
      expect((await settings({})).status).toBe(200);
      const reminders = () =>
        emailsTo(
          'zaha@architects.example',
          new RegExp(`^Lead ${forgotten.leadId} .* is waiting to be converted$`),
        );
      await expect
        .poll(async () => (await reminders()).length, { timeout: 10_000 })
        .toBeGreaterThanOrEqual(2);
      expect(
        (await coordinator.post(`/v1/leads/${forgotten.leadId}/lose`, { reason: 'no answer' })).status,
      ).toBe(200);

      // No advance before the lock: the configurator link came right after the signature.
      const early = await api.deps.db
        .selectFrom('invoices')
        .select('id')
        .where('tenant_id', '=', tenant.tenantId)
        .where('invoice_key', '=', `${lead.leadId}~advance`)
        .execute();
      expect(early).toEqual([]);
      expect(
        (
          await customerPage.draft([
            { sku: skus.panels, quantity: 20 },
            { sku: skus.inverters, quantity: 1 },
          ])
        ).status,
      ).toBe(200);
      expect((await customerPage.lock()).status).toBe(200);
      // 30 % of the contract's 3,000 and the selection's 5,500.
      await pay(tenant.slug, `${lead.leadId}~advance`, 255_000);
      const orders = await waitForOrders(lead.leadId, 2);
      expect(orders).toHaveLength(2);
      const status = (await coordinator.get(flowPath(flowId))).body;
      expect(status.steps.map((step: { name: string }) => step.name).slice(4, 8)).toEqual([
        'contractSigned',
        'selectionLocked',
        'advanceInvoiced',
        'advancePaid',
      ]);
      expect(await emailsTo(email, /^Invoice INV-/)).toHaveLength(1);
      await cancelFlow(flowId);
    } finally {
      await settings({});
    }
  });

  it('puts a problem at the installation before a coordinator, and lets the crew finish once it is solved', async () => {
    // The crew's job is announced at once, whichever day the earlier tests' bookings leave for it.
    const announcedAtOnce = { ...TEST_PROJECT_SETTINGS, dueSoonBefore: '30 days' };
    expect((await admin.request('PUT', '/v1/settings/projects', { body: announcedAtOnce })).status).toBe(200);
    const { skus } = await twoProducers();
    const { lead, flowId } = await toLock(skus).finally(() =>
      admin.request('PUT', '/v1/settings/projects', { body: TEST_PROJECT_SETTINGS }),
    );
    for (const order of await waitForOrders(lead.leadId, 2)) await bookIn(order);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.current_step === 'installation');
    const otherCrew = await admin.post('/v1/crews', {
      name: unique('Crew'),
      email: 'south@installers.example',
      jobsPerDay: 1,
      weeklyCapacity: 5,
    });
    const stranger = apiClient(api.url, await keyFor(['installer'], { crewId: otherCrew.body.crewId }));
    expect((await stranger.get('/v1/jobs')).body.jobs).toEqual([]);
    expect((await stranger.post(`/v1/jobs/${lead.leadId}/start`)).status).toBe(404);

    expect((await installer.post(`/v1/jobs/${lead.leadId}/start`)).status).toBe(200);
    const problem = await installer.post(`/v1/jobs/${lead.leadId}/problems`, {
      description: 'the meter cabinet needs an upgrade first',
    });
    expect(problem.status, problem.text).toBe(200);
    const asking = await waitForFlowRow(
      api.deps.db,
      flowId,
      (r) => (r?.attention as { reason?: string } | null)?.reason === 'installation_problem',
    );
    expect(asking.attention).toMatchObject({
      step: 'installation',
      error: 'the meter cabinet needs an upgrade first',
      options: ['continueInstallation', 'moveInstallation'],
    });
    const refused = await installer.post(`/v1/jobs/${lead.leadId}/complete`, { checklist: { panels: true } });
    expect(refused.status).toBe(409);
    expect(
      (await coordinator.post(`${flowPath(flowId)}/resolve`, { action: 'continueInstallation' })).status,
    ).toBe(409);
    const solved = await coordinator.post(`${flowPath(flowId)}/resolve`, {
      action: 'continueInstallation',
      note: 'the electrician upgraded it this morning',
    });
    expect(solved.status, solved.text).toBe(200);
    const done = await installer.post(`/v1/jobs/${lead.leadId}/complete`, { checklist: { panels: true } });
    expect(done.status, done.text).toBe(200);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.current_step === 'finalPaid');
    const events = await chain(flowId);
    expect(events.filter((type) => type === 'project.problem.reported')).toHaveLength(1);
    expect(events.filter((type) => type === 'project.problem.solved')).toHaveLength(1);
    // Installed: the project is no longer cancelled, only invoiced.
    expect((await coordinator.post(`${flowPath(flowId)}/cancel`, { reason: 'too late' })).status).toBe(409);
    await pay(tenant.slug, `${lead.leadId}~final`, 760_000);
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'completed');
  });
});
