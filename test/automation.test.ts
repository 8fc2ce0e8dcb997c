import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { NAMED_SCENARIOS } from '../domain/automation.js';
import { createLogger } from '../runtime/logger.js';
import { type LegacySimulator, startLegacySimulator } from '../scripts/simulators/legacy.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import { waitForFlowRow } from './helpers/flows.js';
import { recordHistories } from './helpers/histories.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const OPS_EMAIL = 'support@flowdesk.example';
let api: TestApi;
let smtp: SmtpSink;
let legacy: LegacySimulator;
let worker: TestWorker;
let tenant: TestTenant;
let admin: ReturnType<typeof apiClient>;
let coordinator: ReturnType<typeof apiClient>;
let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now()}-${++counter}`;

beforeAll(async () => {
  [smtp, legacy] = await Promise.all([startSmtpSink(), startLegacySimulator({ token: 'legacy-test-token' })]);
  const taskQueue = `automation-${Date.now()}`;
  api = await startTestApi({ env: { TEMPORAL_TASK_QUEUE: taskQueue } });
  const config = testConfig({
    SMTP_URL: smtp.url,
    OPS_EMAIL,
    LEGACY_URL: legacy.url,
    LEGACY_TOKEN: 'legacy-test-token',
    LEGACY_BREAK_AFTER: '3',
    LEGACY_HALF_OPEN_SECONDS: '6',
  });
  worker = await startTestWorker({
    taskQueue,
    activities: createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') }),
  });
  tenant = await createTestTenant(api.deps.db);
  admin = apiClient(api.url, await tenant.key(['admin']));
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await Promise.all([smtp?.stop(), legacy?.stop()]);
});

const device = (overrides: Record<string, string> = {}) => ({
  serial: unique('SN'),
  model: 'TempSense 3',
  companyId: 'ACME',
  assetId: unique('ASSET'),
  ...overrides,
});

async function start(scenario: string, overrides: Record<string, string> = {}) {
  const started = await coordinator.post('/v1/automation-steps', {
    shipmentItemId: unique('ITEM'),
    scenario,
    device: device(overrides),
  });
  expect(started.status, started.text).toBe(201);
  return started.body as { stepId: string; flowId: string };
}

async function step(stepId: string, predicate: (body: { state: string }) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = (await coordinator.get(`/v1/automation-steps/${stepId}`)).body;
    if (predicate(body)) return body;
    if (Date.now() > deadline) throw new Error(`step ${stepId} did not get there: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function events(flowId: string) {
  return api.deps.db
    .selectFrom('domain_events')
    .select(['type', 'payload'])
    .where('flow_id', '=', flowId)
    .where('type', 'like', 'automation.%')
    .orderBy('position')
    .execute();
}

describe('automation steps', () => {
  it('runs every named scenario in the legacy system, each call with its correlation id', async () => {
    const steps = await Promise.all(
      NAMED_SCENARIOS.map((scenario) =>
        start(
          scenario,
          scenario.includes('replacement') || scenario === 'sensor_return'
            ? { previousDeviceId: 'dev_old' }
            : {},
        ),
      ),
    );
    for (const [index, started] of steps.entries()) {
      const done = await step(started.stepId, (body) => body.state === 'completed');
      const scenario = NAMED_SCENARIOS[index] ?? '';
      expect(done).toMatchObject({ scenario, attempts: 1 });
      if (scenario !== 'sensor_return') expect(done.deviceId).toMatch(/^dev_/);
      const trail = await events(started.flowId);
      expect(trail.filter((event) => event.type === 'automation.step_completed')).toHaveLength(1);
      const calls = trail.filter((event) => event.type === 'automation.call');
      expect(calls.length).toBeGreaterThan(0);
      for (const call of calls) {
        expect(call.payload).toMatchObject({ outcome: 'ok' });
        expect(legacy.calls.map((c) => c.correlationId)).toContain(call.payload.correlationId);
      }
    }
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/flowdesk_automation_success_ratio\{scenario="sensor_return"\} 1/);
    expect(metrics).toMatch(/flowdesk_automation_steps\{scenario="sensor_return",state="completed"\} \d+/);
    const listed = (await coordinator.get('/v1/automation-steps?limit=200')).body;
    for (const scenario of NAMED_SCENARIOS)
      expect(
        listed.scenarios.find((entry: { scenario: string }) => entry.scenario === scenario),
      ).toMatchObject({
        successRate: 1,
      });
  });

  it('takes a retry with corrected device data after the legacy system refused the first', async () => {
    const { stepId, flowId } = await start('sensor_vendor_first_time', { serial: 'UNKNOWN-42' });
    const failed = await step(stepId, (body) => body.state === 'failed');
    expect(failed).toMatchObject({ attempts: 1, lastError: expect.stringContaining('HTTP 422') });
    await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
    const serial = unique('SN-FIXED');
    const retried = await coordinator.post(`/v1/automation-steps/${stepId}/retry`, {
      device: { serial },
      note: 'the serial was mistyped',
    });
    expect(retried.status, retried.text).toBe(200);
    const done = await step(stepId, (body) => body.state === 'completed');
    expect(done.attempts).toBe(2);
    expect([...legacy.devices.values()].filter((registered) => registered.serial === serial)).toHaveLength(1);
    expect(
      [...legacy.devices.values()].filter((registered) => registered.serial === 'UNKNOWN-42'),
    ).toHaveLength(0);
    expect((await coordinator.post(`/v1/automation-steps/${stepId}/retry`, {})).status).toBe(409);
    recordHistories({ 'automationStep.corrected': flowId });
  });
  it('waits while the legacy system rests, fails after the scenario’s attempts, tells ops once, and ends by hand', async () => {
    const scenario = 'sensor_down_test';
    const configured = await admin.request('PUT', `/v1/automation-scenarios/${scenario}`, {
      body: {
        operations: ['registerDevice', 'assignToAsset', 'updateMirror'],
        maxAttempts: 5,
        retryDelaySeconds: 1,
        timeoutSeconds: 5,
        fallbackDescription: 'Register it in the legacy console by hand.',
      },
    });
    expect(configured.status, configured.text).toBe(200);
    legacy.faults.down = true;
    try {
      const { stepId, flowId } = await start(scenario);
      const failed = await step(stepId, (body) => body.state === 'failed', 60_000);
      await waitForFlowRow(api.deps.db, flowId, (r) => r?.state === 'needs_attention');
      expect(failed).toMatchObject({ attempts: 5, lastError: expect.stringContaining('HTTP 503') });
      const calls = (await events(flowId)).filter((event) => event.type === 'automation.call');
      // The circuit opened after three failures in a row (for 6 s): the attempt that found it open waited instead
      // of failing, then tried once it half-opened. Five attempts, five calls: none spent while it was open.
      expect(calls.filter((call) => call.payload.outcome === 'circuit_open').length).toBeGreaterThanOrEqual(
        1,
      );
      expect(calls.filter((call) => call.payload.outcome === 'failed')).toHaveLength(5);
      const mine = legacy.calls.filter((call) => call.correlationId?.startsWith(`${flowId}/`));
      expect(mine).toHaveLength(5);
      const notices = await smtp.waitFor(
        (m) => m.envelope.to.includes(OPS_EMAIL) && (m.parsed.text ?? '').includes(flowId),
      );
      expect(notices.parsed.text).toContain('Register it in the legacy console by hand.');

      legacy.faults.down = false;
      expect((await coordinator.post(`/v1/automation-steps/${stepId}/fallback`, { notes: '' })).status).toBe(
        400,
      );
      const fallback = await coordinator.post(`/v1/automation-steps/${stepId}/fallback`, {
        notes: 'registered by hand in the console, ticket 4711',
      });
      expect(fallback.status, fallback.text).toBe(200);
      const ended = await step(stepId, (body) => body.state === 'fallback_triggered');
      expect(ended.fallbackNotes).toBe('registered by hand in the console, ticket 4711');
      expect(
        smtp.messages.filter(
          (m) => m.envelope.to.includes(OPS_EMAIL) && (m.parsed.text ?? '').includes(flowId),
        ),
      ).toHaveLength(1);
      const trail = (await events(flowId)).map((event) => event.type);
      expect(trail.filter((type) => type === 'automation.step_failed')).toHaveLength(1);
      expect(trail.filter((type) => type === 'automation.fallback_triggered')).toHaveLength(1);
      recordHistories({ automationStep: flowId });
    } finally {
      legacy.faults.down = false;
    }
  }, 90_000);
});
