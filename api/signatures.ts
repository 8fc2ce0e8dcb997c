import { WorkflowNotFoundError } from '@temporalio/client';
import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import { contractDeclined, contractSigned, type SignatureEvent } from '../domain/contract.js';
import type { Actor } from '../domain/flow.js';
import type { ApiDeps } from './context.js';

/** What the customer (on the signing page) or the provider (by webhook) says happened to an envelope. */
export interface SignatureDecision {
  envelopeId: string;
  outcome: 'signed' | 'declined' | 'voided';
  signerName?: string;
  reason?: string;
  ip?: string;
  occurredAt: Date;
  actor: Actor;
}

export type DecisionResult =
  | { result: 'recorded' | 'repeated' }
  | { result: 'unknown_envelope' }
  | { result: 'already_decided'; status: string };

const ENVELOPE_STATUS = { signed: 'completed', declined: 'declined', voided: 'voided' } as const;
const CONTRACT_STATE = { signed: 'SIGNED', declined: 'DECLINED', voided: 'VOIDED' } as const;

/**
 * Records a decision on an envelope that is still out for signature, once, then tells its flow. The same
 * decision again (a resubmitted form, a redelivered webhook) signals the flow again, which ignores what it
 * already has, so a signal lost between the commit and Temporal is not lost for good. A voided envelope
 * cannot be signed any more, so the flow hears of it as declined: a person decides what happens next.
 */
export async function recordSignatureDecision(
  deps: Pick<ApiDeps, 'db' | 'temporal'>,
  decision: SignatureDecision,
): Promise<DecisionResult> {
  const { db, temporal } = deps;
  const envelope = await envelopeFor(db, decision.envelopeId);
  if (!envelope) return { result: 'unknown_envelope' };
  const status = ENVELOPE_STATUS[decision.outcome];
  const recorded = await db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('signature_envelopes')
      .set(
        decision.outcome === 'signed'
          ? {
              status,
              signer_name: decision.signerName ?? null,
              signer_ip: decision.ip,
              signed_at: decision.occurredAt,
            }
          : {
              status,
              declined_at: decision.occurredAt,
              decline_reason: decision.reason ?? null,
              signer_ip: decision.ip,
              voided_because: decision.outcome === 'voided' ? 'provider' : null,
            },
      )
      .where('id', '=', decision.envelopeId)
      .where('status', '=', 'sent')
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return false;
    await trx
      .updateTable('contracts')
      .set({
        state: CONTRACT_STATE[decision.outcome],
        signed_at: decision.outcome === 'signed' ? decision.occurredAt : null,
        updated_at: new Date(),
      })
      .where('id', '=', envelope.contract_id)
      .execute();
    await appendEvent(trx, {
      tenantId: envelope.tenant_id,
      type: `contract.${decision.outcome}`,
      actor: decision.actor,
      entity: { type: 'contract', id: envelope.contract_key },
      flowId: envelope.flow_id,
      payload: {
        envelopeId: decision.envelopeId,
        version: envelope.contract_version,
        documentSha256: envelope.document_sha256,
        signerName: decision.signerName,
        ip: decision.ip,
        reason: decision.reason,
      },
      occurredAt: decision.occurredAt,
      idempotencyKey: `${envelope.flow_id}/contract.${decision.outcome}/${decision.envelopeId}`,
    });
    return true;
  });
  if (!recorded) {
    const current = await envelopeFor(db, decision.envelopeId);
    if (current?.status !== status) return { result: 'already_decided', status: current?.status ?? 'gone' };
  }
  const event: SignatureEvent = {
    envelopeId: decision.envelopeId,
    outcome: decision.outcome === 'signed' ? 'signed' : 'declined',
    signerName: decision.signerName,
    reason:
      decision.outcome === 'voided'
        ? `the envelope was voided: ${decision.reason ?? 'no reason given'}`
        : decision.reason,
    occurredAt: decision.occurredAt.toISOString(),
  };
  try {
    await temporal.workflow
      .getHandle(envelope.flow_id)
      .signal(decision.outcome === 'signed' ? contractSigned : contractDeclined, event);
  } catch (error) {
    // A flow that has already finished had this answer already; anything else must surface.
    if (recorded || !(error instanceof WorkflowNotFoundError)) throw error;
  }
  return { result: recorded ? 'recorded' : 'repeated' };
}

function envelopeFor(db: Db, envelopeId: string) {
  return db
    .selectFrom('signature_envelopes')
    .innerJoin('contracts', 'contracts.id', 'signature_envelopes.contract_id')
    .select([
      'signature_envelopes.tenant_id',
      'signature_envelopes.contract_id',
      'signature_envelopes.status',
      'signature_envelopes.flow_id',
      'signature_envelopes.document_sha256',
      'signature_envelopes.contract_version',
      'contracts.contract_key',
    ])
    .where('signature_envelopes.id', '=', envelopeId)
    .executeTakeFirst();
}
