import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type EmailDeps, type EmailRequest, sendEmail } from '../activities/email.js';
import { createDb, type Db } from '../db/client.js';
import { ensureTenant } from '../db/tenants.js';
import { createMailer, type Mailer } from '../integrations/email/mailer.js';
import { type SmtpSink, startSmtpSink } from './helpers/smtp.js';

let db: Db;
let smtp: SmtpSink;
let tenantId: string;
let deps: EmailDeps;

beforeAll(async () => {
  db = createDb(inject('databaseUrl'), 4);
  smtp = await startSmtpSink();
  tenantId = (await ensureTenant(db, `email-${Date.now()}`, 'Email')).id;
  deps = { db, mailer: createMailer({ smtpUrl: smtp.url, outboxDir: '' }), from: 'flowdesk@example.com' };
});
afterAll(async () => {
  await db?.destroy();
  await smtp?.stop();
});

let keys = 0;
function letter(): EmailRequest {
  keys++;
  return {
    tenantId,
    idempotencyKey: `test:email/${Date.now()}/${keys}`,
    to: `customer+${keys}@example.com`,
    subject: `Letter ${keys}`,
    text: 'Hello',
    template: 'test.letter',
  };
}

const copiesOf = (request: EmailRequest) => smtp.messages.filter((m) => m.envelope.to.includes(request.to));
const rowOf = (request: EmailRequest) =>
  db
    .selectFrom('emails')
    .select(['status', 'attempts', 'resend_decisions'])
    .where('tenant_id', '=', tenantId)
    .where('idempotency_key', '=', request.idempotencyKey)
    .executeTakeFirstOrThrow();

/** A worker that dies once the mail server has the message, before it can mark the row sent. */
function dyingAfterDelivery(mailer: Mailer): Mailer {
  return {
    async send(email) {
      await mailer.send(email);
      await new Promise(() => undefined);
    },
  };
}

async function uncertainty(attempt: Promise<unknown>): Promise<ApplicationFailure> {
  const failure = await attempt.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect((failure as ApplicationFailure).type).toBe('EmailDeliveryUncertain');
  expect((failure as ApplicationFailure).nonRetryable).toBe(true);
  return failure as ApplicationFailure;
}

/** Sends as a worker that dies after delivery would, and resolves once the row is left `sending`. */
async function interruptedSend(request: EmailRequest): Promise<void> {
  const before = copiesOf(request).length;
  // Never settles, as the attempt of a dead worker never does.
  void sendEmail({ ...deps, mailer: dyingAfterDelivery(deps.mailer) }, request);
  await smtp.waitFor(() => copiesOf(request).length > before);
  expect((await rowOf(request)).status).toBe('sending');
}

describe('sending an email', () => {
  it('sends once per key', async () => {
    const request = letter();
    expect(await sendEmail(deps, request)).toEqual({ sent: true });
    expect(await sendEmail(deps, request)).toEqual({ sent: false });
    expect(copiesOf(request)).toHaveLength(1);
    expect(await rowOf(request)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('does not send again after an interrupted attempt unless an operator decides so', async () => {
    const request = letter();
    await interruptedSend(request);
    const failure = await uncertainty(sendEmail(deps, request));
    expect(failure.message).toMatch(/interrupted.*Message-ID <[0-9a-f]{32}@flowdesk>/);
    expect(copiesOf(request)).toHaveLength(1);
  });

  it('lets a resend decision authorise one attempt: its retries ask again, a new decision sends', async () => {
    const request = letter();
    await interruptedSend(request);

    // The operator resends, and that attempt is interrupted too, after the server took the message.
    const resend = { ...request, resendDecision: 'run-1/1' };
    await interruptedSend(resend);
    expect(copiesOf(request)).toHaveLength(2);
    // Its automatic retry carries the same decision: used up, so it asks again instead of sending a third.
    const failure = await uncertainty(sendEmail(deps, resend));
    expect(failure.message).toMatch(/resend decided earlier was used/);
    expect(copiesOf(request)).toHaveLength(2);
    expect(await rowOf(request)).toMatchObject({ status: 'sending', resend_decisions: ['run-1/1'] });

    // A new decision authorises one more attempt, which completes.
    expect(await sendEmail(deps, { ...request, resendDecision: 'run-1/2' })).toEqual({ sent: true });
    expect(copiesOf(request)).toHaveLength(3);
    expect(await rowOf(request)).toMatchObject({ status: 'sent', resend_decisions: ['run-1/1', 'run-1/2'] });
    expect(await sendEmail(deps, { ...request, resendDecision: 'run-1/3' })).toEqual({ sent: false });
    expect(copiesOf(request)).toHaveLength(3);
  });

  it('lets only one of two attempts racing with the same decision talk to the mail server', async () => {
    const request = letter();
    await interruptedSend(request);
    const resend = { ...request, resendDecision: 'run-2/1' };
    const outcomes = await Promise.allSettled([sendEmail(deps, resend), sendEmail(deps, resend)]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(copiesOf(request)).toHaveLength(2);
  });

  it('retries an attempt the mail server refused without anyone deciding', async () => {
    const request = letter();
    smtp.reject();
    const refused = await sendEmail(deps, request).then(
      () => undefined,
      (error: unknown) => error as ApplicationFailure,
    );
    smtp.accept();
    expect(refused?.type).toBe('EmailDeliveryFailed');
    expect((await rowOf(request)).status).toBe('pending');
    expect(await sendEmail(deps, request)).toEqual({ sent: true });
    expect(copiesOf(request)).toHaveLength(1);
  });
});
