import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import { SYSTEM } from '../domain/flow.js';
import type { Mailer, OutgoingEmail } from '../integrations/email/mailer.js';

export interface EmailRequest {
  tenantId: string;
  /** One email per key, ever: `{flowId}/{purpose}/{version or number}`. */
  idempotencyKey: string;
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** What kind of message this is, for the audit trail (contract.signing-link, invoice.reminder…). */
  template: string;
  flowId?: string;
  attachments?: OutgoingEmail['attachments'];
  /**
   * The id of an operator's decision to send it again after an interrupted attempt (they checked that it did not
   * arrive). It authorises one attempt: a retry of that attempt carries the same id and may not send again.
   */
  resendDecision?: string;
}

export interface EmailDeps {
  db: Db;
  mailer: Mailer;
  from: string;
}

/** Whether the email with this key went out (the mail server accepted it). */
export async function emailSent(db: Db, tenantId: string, idempotencyKey: string): Promise<boolean> {
  const row = await db
    .selectFrom('emails')
    .select('status')
    .where('tenant_id', '=', tenantId)
    .where('idempotency_key', '=', idempotencyKey)
    .executeTakeFirst();
  return row?.status === 'sent';
}

/**
 * Sends an email once per idempotency key. The row is claimed first and marked `sending` before the SMTP
 * conversation; a key already `sent` returns at once. SMTP has no idempotency: a worker that dies after the
 * server accepted the message but before the row says `sent` leaves the row `sending`, and the retry cannot know
 * whether the customer got it. It does not guess: it fails with `EmailDeliveryUncertain` (not retried) and an
 * operator, having checked the mail server's log for the Message-ID, completes the step by hand or retries it
 * with `{"resend": true}`. That decision authorises one attempt: the attempt that claims the row with it uses it
 * up, so when that attempt is interrupted too, its retries are uncertain again and the operator decides again.
 * An error in the SMTP conversation means the server never confirmed taking the message, and a server must not
 * deliver what it did not confirm, so that attempt is retried as usual.
 */
export async function sendEmail(
  { db, mailer, from }: EmailDeps,
  request: EmailRequest,
): Promise<{ sent: boolean }> {
  await db
    .insertInto('emails')
    .values({
      tenant_id: request.tenantId,
      idempotency_key: request.idempotencyKey,
      to_address: request.to,
      subject: request.subject,
      template: request.template,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'idempotency_key']).doNothing())
    .execute();
  const row = await db
    .selectFrom('emails')
    .select(['id', 'status'])
    .where('tenant_id', '=', request.tenantId)
    .where('idempotency_key', '=', request.idempotencyKey)
    .executeTakeFirstOrThrow();
  if (row.status === 'sent') return { sent: false };

  const messageId = `<${createHash('sha256').update(`${request.tenantId}/${request.idempotencyKey}`).digest('hex').slice(0, 32)}@flowdesk>`;
  // One statement decides who may talk to the mail server: a row nobody is sending, or a row left `sending` by
  // an interrupted attempt with a resend decision nobody has used. Two attempts never both win.
  const decision = request.resendDecision;
  const claimed = await db
    .updateTable('emails')
    .set((eb) => ({
      status: 'sending',
      attempts: eb('attempts', '+', 1),
      resend_decisions: decision
        ? sql<string[]>`array_append(resend_decisions, ${decision})`
        : eb.ref('resend_decisions'),
    }))
    .where('id', '=', row.id)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'pending'),
        ...(decision
          ? [eb.and([eb('status', '=', 'sending'), sql<boolean>`not (${decision} = any(resend_decisions))`])]
          : []),
      ]),
    )
    .returning('status')
    .executeTakeFirst();
  if (!claimed) {
    const now = await db
      .selectFrom('emails')
      .select('status')
      .where('id', '=', row.id)
      .executeTakeFirstOrThrow();
    if (now.status === 'sent') return { sent: false };
    const again = decision
      ? ' (the resend decided earlier was used by an attempt that was interrupted too)'
      : '';
    throw ApplicationFailure.create({
      type: 'EmailDeliveryUncertain',
      nonRetryable: true,
      message: `an earlier attempt to email ${request.to} ("${request.subject}") was interrupted after the mail server may have accepted it${again}; check the mail log for Message-ID ${messageId}, then complete the step by hand or retry with {"resend": true}`,
      details: [{ messageId, idempotencyKey: request.idempotencyKey }],
    });
  }
  try {
    await mailer.send({
      from,
      to: request.to,
      subject: request.subject,
      text: request.text,
      html: request.html,
      messageId,
      attachments: request.attachments,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await db
      .updateTable('emails')
      .set({ status: 'pending', last_error: message })
      .where('id', '=', row.id)
      .execute();
    throw ApplicationFailure.retryable(
      `email to ${request.to} not delivered: ${message}`,
      'EmailDeliveryFailed',
    );
  }
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('emails')
      .set({
        status: 'sent',
        message_id: messageId,
        sent_at: new Date(),
        last_error: null,
      })
      .where('id', '=', row.id)
      .execute();
    await appendEvent(trx, {
      tenantId: request.tenantId,
      type: 'email.sent',
      actor: SYSTEM,
      entity: { type: 'email', id: row.id },
      flowId: request.flowId,
      payload: {
        to: request.to,
        subject: request.subject,
        template: request.template,
        idempotencyKey: request.idempotencyKey,
      },
      idempotencyKey: `email.sent/${request.tenantId}/${request.idempotencyKey}`,
    });
  });
  return { sent: true };
}
