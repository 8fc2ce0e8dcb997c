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
}

export interface EmailDeps {
  db: Db;
  mailer: Mailer;
  from: string;
}

/**
 * Sends an email once per idempotency key. The row is claimed first; a key already marked sent returns at
 * once. Temporal runs an activity's attempts one at a time, so the only way to send twice is a worker dying
 * between the SMTP server accepting the message and the row being marked (a window of milliseconds); the
 * Message-ID, derived from the key, then lets the receiving side drop the copy. Closing that window means
 * marking the row `sending` first and asking an operator when a retry finds it so.
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
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: message }))
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
      .set((eb) => ({
        status: 'sent',
        message_id: messageId,
        sent_at: new Date(),
        attempts: eb('attempts', '+', 1),
        last_error: null,
      }))
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
