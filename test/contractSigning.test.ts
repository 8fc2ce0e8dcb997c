import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../activities/index.js';
import { type ContractSigningInput, contractFlowId, contractSigned } from '../domain/contract.js';
import { flowStatusQuery } from '../domain/flow.js';
import { createLogger } from '../runtime/logger.js';
import { contractSigning } from '../workflows/contractSigning.js';
import { apiClient, createTestTenant, startTestApi, type TestApi, type TestTenant } from './helpers/api.js';
import { testConfig } from './helpers/config.js';
import {
  flowRow as publishedFlowRow,
  signingLinkFor as signingLink,
  submitSigningForm as submitForm,
  waitForFlowRow,
} from './helpers/flows.js';
import { waitForReadAfterSignal } from './helpers/histories.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';
import { startTestWorker, type TestWorker } from './helpers/temporal.js';

const CONNECT_KEY = 'docusign-connect-test-key-0123456789';

let api: TestApi;
let smtp: SmtpSink;
let worker: TestWorker;
let tenant: TestTenant;
let coordinatorKey: string;
let viewerKey: string;
let counter = 0;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  smtp = await startSmtpSink();
  api = await startTestApi({ env: { DOCUSIGN_CONNECT_SECRET: CONNECT_KEY, DECISION_WAIT_SECONDS: '2' } });
  const config = testConfig({ SMTP_URL: smtp.url, PUBLIC_URL: api.url });
  activities = createActivities({ config, db: api.deps.db, logger: createLogger(config, 'worker-test') });
  worker = await startTestWorker({ activities });
  tenant = await createTestTenant(api.deps.db);
  coordinatorKey = await tenant.key(['coordinator']);
  viewerKey = await tenant.key(['viewer']);
});

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await smtp?.stop();
});

function contractInput(overrides: Partial<ContractSigningInput> = {}): ContractSigningInput {
  counter++;
  const contractId = `C-${Date.now()}-${counter}`;
  return {
    tenantId: tenant.tenantId,
    tenantSlug: tenant.slug,
    contractId,
    proposal: {
      proposalId: `P-${contractId}`,
      title: 'Solar panels, 12 kWp',
      currency: 'EUR',
      customer: { name: 'Ada Lovelace', email: `ada+${contractId.toLowerCase()}@example.com` },
      lines: [
        { description: 'Panel 400 W', quantity: 30, unitPrice: 18_000 },
        { description: 'Installation', quantity: 1, unitPrice: 250_000 },
      ],
    },
    signing: { deadline: '1 hour', remindEvery: '1 hour' },
    retry: { maximumAttempts: 2, initialInterval: '100 milliseconds', maximumInterval: '200 milliseconds' },
    ...overrides,
  } as ContractSigningInput;
}

async function startContract(input: ContractSigningInput) {
  const flowId = contractFlowId(input.tenantSlug, input.contractId);
  const handle = await worker.client.workflow.start(contractSigning, {
    taskQueue: worker.taskQueue,
    workflowId: flowId,
    args: [input],
  });
  return { flowId, handle };
}

function emailsTo(address: string, subject: RegExp) {
  return smtp.messages.filter((m) => m.envelope.to.includes(address) && subject.test(m.parsed.subject ?? ''));
}

const signingLinkFor = (address: string) => signingLink(smtp, address);
const submitSigningForm = (link: string, fields: Record<string, string>) =>
  submitForm(api.deps.db, link, fields);

async function flowRow(flowId: string) {
  return api.deps.db.selectFrom('flows').selectAll().where('id', '=', flowId).executeTakeFirstOrThrow();
}

function waitForFlow(flowId: string, predicate: (row: Awaited<ReturnType<typeof flowRow>>) => boolean) {
  return waitForFlowRow(api.deps.db, flowId, (row) => row !== undefined && predicate(row));
}

async function eventTypes(flowId: string) {
  const rows = await api.deps.db
    .selectFrom('domain_events')
    .select('type')
    .where('flow_id', '=', flowId)
    .execute();
  return rows.map((r) => r.type);
}

describe('contractSigning', () => {
  it('renders, sends the link once, records the signature from the signing page and completes', async () => {
    const input = contractInput();
    const { flowId, handle } = await startContract(input);
    const link = await signingLinkFor(input.proposal.customer.email);

    const waiting = await waitForFlow(flowId, (r) => r.state === 'waiting');
    const status = await handle.query(flowStatusQuery);
    expect({
      state: waiting.state,
      step: waiting.current_step,
      done: waiting.progress_done,
      total: waiting.progress_total,
    }).toEqual({
      state: status.state,
      step: status.currentStep,
      done: status.progress.done,
      total: status.progress.total,
    });
    expect(status).toMatchObject({
      state: 'waiting',
      currentStep: 'awaitSignature',
      waitingFor: 'awaitSignature',
      progress: { done: 3, total: 4 },
    });

    const page = await (await fetch(link)).text();
    expect(page).toContain('Solar panels, 12 kWp');
    expect(page).toContain('€7,900.00');
    const response = await submitSigningForm(link, {
      decision: 'sign',
      signerName: 'Ada Lovelace',
      agree: 'yes',
    });
    expect(response.status).toBe(200);
    const result = await handle.result();
    expect(result).toMatchObject({ contractId: input.contractId, version: 1, signerName: 'Ada Lovelace' });

    const envelope = await api.deps.db
      .selectFrom('signature_envelopes')
      .selectAll()
      .where('id', '=', result.envelopeId)
      .executeTakeFirstOrThrow();
    expect(envelope).toMatchObject({
      status: 'completed',
      signer_name: 'Ada Lovelace',
      document_sha256: result.documentSha256,
    });
    expect(envelope.signer_ip).toMatch(/127\.0\.0\.1/);
    const document = await api.deps.db
      .selectFrom('documents')
      .select(['sha256', 'version'])
      .where('entity_id', '=', input.contractId)
      .execute();
    expect(document).toEqual([{ sha256: result.documentSha256, version: 1 }]);

    // A second submission of the same form changes nothing.
    expect(
      (await submitSigningForm(link, { decision: 'sign', signerName: 'Ada Lovelace', agree: 'yes' })).status,
    ).toBe(200);

    const row = await waitForFlow(flowId, (r) => r.state === 'completed');
    expect(row.progress_done).toBe(4);
    expect(row.ended_at).not.toBeNull();
    const types = await eventTypes(flowId);
    for (const once of [
      'flow.started',
      'contract.generated',
      'contract.envelope.created',
      'email.sent',
      'contract.signed',
      'flow.completed',
    ]) {
      expect(
        types.filter((t) => t === once),
        once,
      ).toHaveLength(1);
    }
    expect(emailsTo(input.proposal.customer.email, /ready to sign/)).toHaveLength(1);
  });

  it('reminds on the interval, needs attention at the deadline, and continues after an operator extends it', async () => {
    const input = contractInput({
      signing: { deadline: '2500 milliseconds', remindEvery: '1 second' },
    } as never);
    const { flowId, handle } = await startContract(input);
    const link = await signingLinkFor(input.proposal.customer.email);
    const stuck = await waitForFlow(flowId, (r) => r.state === 'needs_attention');
    expect(stuck.attention).toMatchObject({
      step: 'awaitSignature',
      reason: 'deadline_passed',
      options: ['extend', 'resend'],
    });
    expect(emailsTo(input.proposal.customer.email, /Reminder/).length).toBeGreaterThanOrEqual(2);

    const client = apiClient(api.url, coordinatorKey);
    const refused = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'skip',
      note: 'no',
    });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toBe('skip does not apply to awaitSignature; possible: extend, resend');
    const extended = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'extend',
      extendBy: '1 hour',
      note: 'customer on holiday',
    });
    expect(extended.status).toBe(200);
    expect(extended.body.state).toBe('waiting');

    expect(
      (await submitSigningForm(link, { decision: 'sign', signerName: 'Ada Lovelace', agree: 'yes' })).status,
    ).toBe(200);
    await handle.result();
    const events = await api.deps.db
      .selectFrom('domain_events')
      .selectAll()
      .where('flow_id', '=', flowId)
      .where('type', '=', 'flow.attention.resolved')
      .execute();
    expect(events).toHaveLength(1);
    expect(events[0]?.actor).toMatchObject({ type: 'user', name: 'coordinator' });
    expect(events[0]?.payload).toMatchObject({ action: 'extend', note: 'customer on holiday' });
  });

  it('needs attention when the customer declines; cancelling then ends the flow', async () => {
    const input = contractInput();
    const { flowId, handle } = await startContract(input);
    const link = await signingLinkFor(input.proposal.customer.email);
    expect((await submitSigningForm(link, { decision: 'decline', reason: 'price too high' })).status).toBe(
      200,
    );
    const stuck = await waitForFlow(flowId, (r) => r.state === 'needs_attention');
    expect(stuck.attention).toMatchObject({
      reason: 'declined',
      error: 'the customer declined the contract: price too high',
      options: ['resend'],
    });

    const cancelled = await apiClient(api.url, coordinatorKey).post(
      `/v1/flows/${encodeURIComponent(flowId)}/cancel`,
      { reason: 'lost the deal' },
    );
    expect(cancelled.status).toBe(202);
    await expect(handle.result()).rejects.toThrow();
    await waitForFlow(flowId, (r) => r.state === 'cancelled');
    expect(await eventTypes(flowId)).toEqual(
      expect.arrayContaining(['contract.declined', 'flow.cancel.requested', 'flow.cancelled']),
    );
  });

  it('acts on the recorded answer, not on a signal: a signature signalled by hand signs nothing', async () => {
    const input = contractInput();
    const { flowId, handle } = await startContract(input);
    const link = await signingLinkFor(input.proposal.customer.email);
    await waitForFlow(flowId, (r) => r.state === 'waiting');
    const { id: envelopeId } = await api.deps.db
      .selectFrom('signature_envelopes')
      .select('id')
      .where('flow_id', '=', flowId)
      .executeTakeFirstOrThrow();
    // Anyone with access to the namespace could send this, with the right envelope id.
    await handle.signal(contractSigned, {
      envelopeId,
      outcome: 'signed',
      signerName: 'Mallory',
      occurredAt: new Date().toISOString(),
    });
    await waitForReadAfterSignal(handle);
    await sleep(300);
    expect((await flowRow(flowId))?.state).toBe('waiting');
    // The customer signs on the page: that is recorded, and that completes the flow.
    expect(
      (await submitSigningForm(link, { decision: 'sign', signerName: 'Ada Lovelace', agree: 'yes' })).status,
    ).toBe(200);
    expect(await handle.result()).toMatchObject({ signerName: 'Ada Lovelace' });
  });

  it('voids the open envelope when cancelled while waiting, so the link no longer signs', async () => {
    const input = contractInput();
    const { flowId, handle } = await startContract(input);
    const link = await signingLinkFor(input.proposal.customer.email);
    await waitForFlow(flowId, (r) => r.state === 'waiting');
    expect(
      (await apiClient(api.url, coordinatorKey).post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`))
        .status,
    ).toBe(202);
    await expect(handle.result()).rejects.toThrow();
    await waitForFlow(flowId, (r) => r.state === 'cancelled');
    const envelope = await api.deps.db
      .selectFrom('signature_envelopes')
      .select('status')
      .where('flow_id', '=', flowId)
      .executeTakeFirstOrThrow();
    expect(envelope.status).toBe('voided');
    const gone = await fetch(link);
    expect(gone.status).toBe(410);
    // Withdrawn, not replaced: the page never points the customer to a newer version that does not exist.
    const page = await gone.text();
    expect(page).toContain('This contract was withdrawn');
    expect(page).not.toContain('newer version');
    expect(
      (await submitSigningForm(link, { decision: 'sign', signerName: 'Ada Lovelace', agree: 'yes' })).status,
    ).toBe(410);
    expect(await eventTypes(flowId)).toEqual(
      expect.arrayContaining(['contract.envelope.voided', 'flow.compensated', 'flow.cancelled']),
    );
  });

  it('pause silences reminders and holds the flow; resume continues; invalid transitions answer 409', async () => {
    const input = contractInput({
      signing: { deadline: '1 hour', remindEvery: '700 milliseconds' },
    } as never);
    const { flowId, handle } = await startContract(input);
    const link = await signingLinkFor(input.proposal.customer.email);
    const client = apiClient(api.url, coordinatorKey);
    const path = `/v1/flows/${encodeURIComponent(flowId)}`;

    const resumeRunning = await client.post(`${path}/resume`);
    expect(resumeRunning.status).toBe(409);
    expect(resumeRunning.headers.get('content-type')).toBe('application/problem+json');
    expect(resumeRunning.body.detail).toMatch(/^the flow is not paused/);

    expect((await apiClient(api.url, viewerKey).post(`${path}/pause`)).status).toBe(403);
    const paused = await client.post(`${path}/pause`, { reason: 'customer asked for time' });
    expect(paused.status).toBe(200);
    expect(paused.body.state).toBe('paused');
    expect((await flowRow(flowId)).state).toBe('paused');
    const remindersAtPause = emailsTo(input.proposal.customer.email, /Reminder/).length;
    await sleep(2_500);
    expect(emailsTo(input.proposal.customer.email, /Reminder/).length).toBe(remindersAtPause);
    expect((await client.post(`${path}/pause`)).status).toBe(409);

    const resumed = await client.post(`${path}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.state).toBe('waiting');
    await smtp.waitFor(
      (m) =>
        m.envelope.to.includes(input.proposal.customer.email) &&
        /Reminder/.test(m.parsed.subject ?? '') &&
        emailsTo(input.proposal.customer.email, /Reminder/).length > remindersAtPause,
    );

    await submitSigningForm(link, { decision: 'sign', signerName: 'Ada Lovelace', agree: 'yes' });
    await handle.result();
    await waitForFlow(flowId, (r) => r.state === 'completed');
    const pauseCompleted = await client.post(`${path}/pause`);
    expect(pauseCompleted.status).toBe(409);
  });

  it('answers 503 in bounded time when no worker acts on a decision, instead of keeping the person waiting', async () => {
    const { flowId } = await startContract(contractInput());
    await waitForFlow(flowId, (r) => r.state === 'waiting');
    await worker.stop();
    try {
      const asked = performance.now();
      const res = await apiClient(api.url, coordinatorKey).post(
        `/v1/flows/${encodeURIComponent(flowId)}/pause`,
        {
          reason: 'checking with the customer',
        },
      );
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body.detail).toContain('did not answer within 2 s');
      expect(performance.now() - asked).toBeLessThan(10_000);
      // Deciding about a step needs a worker just the same (a chaos run saw 500)…
      const client = apiClient(api.url, coordinatorKey);
      const decided = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
        action: 'retry',
      });
      expect(decided.status).toBe(503);
      expect(decided.body.detail).toContain('did not answer within 2 s');
      // …but reading the flow does not: it comes from PostgreSQL, and Temporal's part from the server.
      const read = await client.get(`/v1/flows/${encodeURIComponent(flowId)}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({
        state: 'waiting',
        currentStep: 'awaitSignature',
        temporalState: 'RUNNING',
      });
    } finally {
      worker = await startTestWorker({ activities, taskQueue: worker.taskQueue });
    }
    await apiClient(api.url, coordinatorKey).post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`);
    await waitForFlow(flowId, (r) => r.state === 'cancelled');
  });

  it('answers 503, not 500, when Temporal cannot run the flow’s code (its workflow task keeps failing)', async () => {
    const flowId = `contract:${tenant.slug}:C-broken-${Date.now()}`;
    // A workflow type no worker knows: each of its workflow tasks fails, as a bug in workflow code would.
    await worker.client.workflow.start('notAWorkflowOfThisWorker', {
      taskQueue: worker.taskQueue,
      workflowId: flowId,
    });
    await api.deps.db
      .insertInto('flows')
      .values(
        publishedFlowRow({
          id: flowId,
          tenant_id: tenant.tenantId,
          flow_type: 'contractSigning',
          state: 'needs_attention',
          current_step: 'sendSigningLink',
        }),
      )
      .execute();
    const client = apiClient(api.url, coordinatorKey);
    for (;;) {
      const answer = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
        action: 'retry',
      });
      expect(answer.status).toBe(503);
      if (/failed state/.test(answer.body.detail)) break;
      // Until the first task has failed, the flow simply does not answer in time.
      expect(answer.body.detail).toContain('did not answer within 2 s');
    }
    // Reading it still works: the row, and Temporal's side of it.
    const read = await client.get(`/v1/flows/${encodeURIComponent(flowId)}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ state: 'needs_attention', temporalState: 'RUNNING' });
    await worker.client.workflow.getHandle(flowId).terminate('test over');
  });

  it('a failing SMTP server makes the step need attention with the error; retry after it is back completes it', async () => {
    smtp.reject();
    const input = contractInput();
    const { flowId, handle } = await startContract(input);
    const stuck = await waitForFlow(flowId, (r) => r.state === 'needs_attention');
    expect(stuck.current_step).toBe('sendSigningLink');
    expect(stuck.attention).toMatchObject({
      step: 'sendSigningLink',
      reason: 'step_failed',
      options: ['retry', 'skip', 'fallback'],
    });
    expect(String((stuck.attention as { error: string }).error)).toMatch(/mailbox temporarily unavailable/);
    const detail = await apiClient(api.url, viewerKey).get(`/v1/flows/${encodeURIComponent(flowId)}`);
    expect(detail.body.steps.find((s: { name: string }) => s.name === 'sendSigningLink')).toMatchObject({
      state: 'needs_attention',
      attempts: 2,
    });
    expect(detail.body.temporalUiUrl).toContain(encodeURIComponent(flowId));

    smtp.accept();
    const retried = await apiClient(api.url, coordinatorKey).post(
      `/v1/flows/${encodeURIComponent(flowId)}/resolve`,
      { action: 'retry' },
    );
    expect(retried.status).toBe(200);
    const link = await signingLinkFor(input.proposal.customer.email);
    await submitSigningForm(link, { decision: 'sign', signerName: 'Ada Lovelace', agree: 'yes' });
    await handle.result();
    expect(emailsTo(input.proposal.customer.email, /ready to sign/)).toHaveLength(1);
  });

  it('fallback completes a failing step by hand and records who and why', async () => {
    smtp.reject();
    const input = contractInput();
    const { flowId } = await startContract(input);
    await waitForFlow(flowId, (r) => r.state === 'needs_attention');
    smtp.accept();
    const client = apiClient(api.url, coordinatorKey);
    const noNote = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'fallback',
    });
    expect(noNote.status).toBe(400);
    expect(noNote.body.errors).toEqual([{ field: 'body.note', message: 'fallback needs a note saying why' }]);
    const resolved = await client.post(`/v1/flows/${encodeURIComponent(flowId)}/resolve`, {
      action: 'fallback',
      note: 'link sent by phone',
    });
    expect(resolved.status).toBe(200);
    const step = resolved.body.steps.find((s: { name: string }) => s.name === 'sendSigningLink');
    expect(step).toMatchObject({
      state: 'manual',
      resolvedBy: {
        action: 'fallback',
        note: 'link sent by phone',
        actor: { type: 'user', name: 'coordinator' },
      },
    });
    await waitForFlow(flowId, (r) => r.state === 'waiting');
    expect(emailsTo(input.proposal.customer.email, /ready to sign/)).toHaveLength(0);
    await client.post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`);
  });

  it('refuses forged signing links and hides other tenants’ flows', async () => {
    const input = contractInput();
    const { flowId } = await startContract(input);
    const link = await signingLinkFor(input.proposal.customer.email);
    const forged = link.replace(/token=[^&]+/, 'token=AAAA');
    expect((await fetch(forged)).status).toBe(403);
    expect(
      (await submitSigningForm(forged, { decision: 'sign', signerName: 'Mallory', agree: 'yes' })).status,
    ).toBe(403);
    const extended = link.replace(/expires=\d+/, `expires=${Date.now() + 10 ** 10}`);
    expect((await fetch(extended)).status).toBe(403);
    const envelope = await api.deps.db
      .selectFrom('signature_envelopes')
      .select('status')
      .where('flow_id', '=', flowId)
      .executeTakeFirstOrThrow();
    expect(envelope.status).toBe('sent');

    const other = await createTestTenant(api.deps.db);
    const otherKey = await other.key(['admin']);
    const path = `/v1/flows/${encodeURIComponent(flowId)}`;
    for (const [method, suffix] of [
      ['GET', ''],
      ['GET', '/events'],
      ['POST', '/pause'],
      ['POST', '/cancel'],
    ] as const) {
      const res = await apiClient(api.url, otherKey).request(method, `${path}${suffix}`);
      expect(res.status, `${method} ${suffix}`).toBe(404);
    }
    const listed = await apiClient(api.url, otherKey).get('/v1/flows');
    expect(listed.body.flows).toEqual([]);
    await apiClient(api.url, coordinatorKey).post(`${path}/cancel`);
  });
});

/** A DocuSign Connect (JSON SIM) message about an envelope, signed as Connect signs it (or with another key). */
function postConnect(envelopeId: string, event: string, summary: Record<string, unknown>, key = CONNECT_KEY) {
  const body = JSON.stringify({
    event,
    apiVersion: 'v2.1',
    uri: `/restapi/v2.1/accounts/acc/envelopes/${envelopeId}`,
    retryCount: 0,
    configurationId: 10001,
    generatedDateTime: new Date().toISOString(),
    data: { accountId: 'acc', userId: 'user', envelopeId, envelopeSummary: summary },
  });
  return fetch(`${api.url}/webhooks/esign/docusign`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-docusign-signature-1': createHmac('sha256', 'an-older-connect-key').update(body).digest('base64'),
      'x-docusign-signature-2': createHmac('sha256', key).update(body).digest('base64'),
    },
    body,
  });
}

async function envelopeOf(flowId: string) {
  return api.deps.db
    .selectFrom('signature_envelopes')
    .selectAll()
    .where('flow_id', '=', flowId)
    .executeTakeFirstOrThrow();
}

describe('DocuSign Connect', () => {
  it('records envelope-completed once from a genuine message and completes the flow; a forged one changes nothing', async () => {
    const input = contractInput();
    const { flowId, handle } = await startContract(input);
    await waitForFlow(flowId, (r) => r.state === 'waiting');
    const envelope = await envelopeOf(flowId);
    const completed = {
      status: 'completed',
      recipients: {
        signers: [{ name: 'Ada King', email: input.proposal.customer.email, status: 'completed' }],
      },
    };

    const forged = await postConnect(envelope.id, 'envelope-completed', completed, 'not-the-connect-key');
    expect(forged.status).toBe(400);
    expect(forged.headers.get('content-type')).toBe('application/problem+json');
    expect((await envelopeOf(flowId)).status).toBe('sent');
    const receipts = () =>
      api.deps.db
        .selectFrom('webhook_receipts')
        .select('id')
        .where('source', '=', 'docusign')
        .where('external_id', 'like', `${envelope.id}/%`)
        .execute();
    expect(await receipts()).toHaveLength(0);

    const first = await postConnect(envelope.id, 'envelope-completed', completed);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: true, duplicate: false });
    const again = await postConnect(envelope.id, 'envelope-completed', completed);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    // Events Flowdesk does not act on are acknowledged, so Connect does not retry them.
    expect((await postConnect(envelope.id, 'recipient-delivered', completed)).status).toBe(200);

    expect(await handle.result()).toMatchObject({ signerName: 'Ada King', envelopeId: envelope.id });
    expect(await receipts()).toHaveLength(1);
    expect((await envelopeOf(flowId)).signer_name).toBe('Ada King');
    const signed = await api.deps.db
      .selectFrom('domain_events')
      .select(['actor'])
      .where('flow_id', '=', flowId)
      .where('type', '=', 'contract.signed')
      .execute();
    expect(signed).toEqual([{ actor: { type: 'webhook', id: `docusign:${envelope.id}`, name: 'Ada King' } }]);
  });

  it('treats envelope-voided and envelope-declined as a decision for an operator', async () => {
    const voidedInput = contractInput();
    const voidedFlow = await startContract(voidedInput);
    await waitForFlow(voidedFlow.flowId, (r) => r.state === 'waiting');
    const voided = await envelopeOf(voidedFlow.flowId);
    expect(
      (
        await postConnect(voided.id, 'envelope-voided', {
          status: 'voided',
          voidedReason: 'sender corrected',
        })
      ).status,
    ).toBe(200);
    const stuck = await waitForFlow(voidedFlow.flowId, (r) => r.state === 'needs_attention');
    expect(stuck.attention).toMatchObject({
      step: 'awaitSignature',
      reason: 'declined',
      options: ['resend'],
    });
    expect(String(stuck.attention?.error)).toContain('voided: sender corrected');
    expect((await envelopeOf(voidedFlow.flowId)).status).toBe('voided');

    const declinedInput = contractInput();
    const declinedFlow = await startContract(declinedInput);
    await waitForFlow(declinedFlow.flowId, (r) => r.state === 'waiting');
    const declined = await envelopeOf(declinedFlow.flowId);
    await postConnect(declined.id, 'envelope-declined', {
      status: 'declined',
      recipients: { signers: [{ name: 'Ada', status: 'declined', declinedReason: 'price too high' }] },
    });
    const refused = await waitForFlow(declinedFlow.flowId, (r) => r.state === 'needs_attention');
    expect(String(refused.attention?.error)).toContain('price too high');
    for (const { flowId } of [voidedFlow, declinedFlow]) {
      await apiClient(api.url, coordinatorKey).post(`/v1/flows/${encodeURIComponent(flowId)}/cancel`);
      await waitForFlow(flowId, (r) => r.state === 'cancelled');
    }
  });
});
