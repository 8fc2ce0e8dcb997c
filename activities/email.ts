import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
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
  /** An operator checked that an interrupted earlier attempt did not arrive: send it even so. */
  resend?: boolean;
}

export interface EmailDeps {
  db: Db;
  mailer: Mailer;
  from: string;
}

/**
 * Sends an email once per idempotency key. The row is claimed first and marked `sending` before the SMTP
 * conversation; a key already `sent` returns at once. SMTP has no idempotency: a worker that dies after the
 * server accepted the message but before the row says `sent` leaves the row `sending`, and the retry cannot know
 * whether the customer got it. It does not guess: it fails with `EmailDeliveryUncertain` (not retried) and an
 * operator, having checked the mail server's log for the Message-ID, completes the step by hand or retries it
 * with `{"resend": true}`. An error in the SMTP conversation means the server never confirmed taking the
 * message, and a server must not deliver what it did not confirm, so that attempt is retried as usual.
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
  if (row.status === 'sending' && !request.resend) {
    throw ApplicationFailure.create({
      type: 'EmailDeliveryUncertain',
      nonRetryable: true,
      message: `an earlier attempt to email ${request.to} ("${request.subject}") was interrupted after the mail server may have accepted it; check the mail log for Message-ID ${messageId}, then complete the step by hand or retry with {"resend": true}`,
      details: [{ messageId, idempotencyKey: request.idempotencyKey }],
    });
  }
  await db
    .updateTable('emails')
    .set((eb) => ({ status: 'sending', attempts: eb('attempts', '+', 1) }))
    .where('id', '=', row.id)
    .execute();
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
