import { ApplicationFailure } from '@temporalio/activity';
import { sql } from 'kysely';
import { appendEvent } from '../db/events.js';
import type { SignatureEvent } from '../domain/contract.js';
import { SYSTEM } from '../domain/flow.js';
import { formatMoney } from '../domain/money.js';
import { type Proposal, proposalTotal } from '../domain/proposal.js';
import { renderContract } from '../integrations/contracts/render.js';
import { expiringUrl } from '../integrations/links/expiringLinks.js';
import { type EmailDeps, sendEmail } from './email.js';

export interface ContractDeps extends EmailDeps {
  publicUrl: string;
  signingSecret?: string;
  companyName: string;
}

export interface GeneratedContract {
  contractUuid: string;
  documentId: string;
  sha256: string;
  version: number;
}

/**
 * An envelope as the flow holds it: no link. The link carries a token that signs, so it is built where the
 * email is written and never enters a history (runs that began before this still pass one along; it is ignored).
 */
export interface Envelope {
  envelopeId: string;
  expiresAt: string;
}

interface ContractRef {
  tenantId: string;
  flowId: string;
  contractId: string;
  version: number;
}

export function contractActivities(deps: ContractDeps) {
  const { db } = deps;

  function requireSigningSecret(): string {
    if (!deps.signingSecret) {
      throw ApplicationFailure.nonRetryable(
        'SIGNING_SECRET is not configured on the worker',
        'ConfigurationError',
      );
    }
    return deps.signingSecret;
  }

  /** The customer's signing link to an envelope, with the token that signs. */
  async function linkTo({ envelopeId }: Envelope): Promise<string> {
    const envelope = await envelopeOf(envelopeId);
    return expiringUrl(deps.publicUrl, requireSigningSecret(), 'sign', envelopeId, envelope.expires_at);
  }

  async function envelopeOf(envelopeId: string) {
    return db
      .selectFrom('signature_envelopes')
      .selectAll()
      .where('id', '=', envelopeId)
      .executeTakeFirstOrThrow();
  }

  return {
    /** Renders version `version` of the contract and stores it; the stored version is immutable once written. */
    async generateContract(input: ContractRef & { proposal: Proposal }): Promise<GeneratedContract> {
      const rendered = renderContract({
        contractId: input.contractId,
        version: input.version,
        sellerName: deps.companyName,
        proposal: input.proposal,
      });
      return db.transaction().execute(async (trx) => {
        await trx
          .insertInto('documents')
          .values({
            tenant_id: input.tenantId,
            kind: 'contract',
            entity_id: input.contractId,
            version: input.version,
            filename: `contract-${input.contractId}-v${input.version}.html`,
            content_type: rendered.contentType,
            content: rendered.content,
            sha256: rendered.sha256,
          })
          .onConflict((oc) => oc.columns(['tenant_id', 'kind', 'entity_id', 'version']).doNothing())
          .execute();
        const document = await trx
          .selectFrom('documents')
          .select(['id', 'sha256'])
          .where('tenant_id', '=', input.tenantId)
          .where('kind', '=', 'contract')
          .where('entity_id', '=', input.contractId)
          .where('version', '=', input.version)
          .executeTakeFirstOrThrow();
        const contract = await trx
          .insertInto('contracts')
          .values({
            tenant_id: input.tenantId,
            contract_key: input.contractId,
            proposal_id: input.proposal.proposalId,
            flow_id: input.flowId,
            state: 'GENERATED',
            version: input.version,
            customer_name: input.proposal.customer.name,
            customer_email: input.proposal.customer.email,
            document_id: document.id,
          })
          .onConflict((oc) =>
            oc
              .columns(['tenant_id', 'contract_key'])
              .doUpdateSet((eb) => ({
                version: eb.ref('excluded.version'),
                document_id: eb.ref('excluded.document_id'),
                state: 'GENERATED',
                updated_at: sql`now()`,
              }))
              .where(sql<boolean>`contracts.version < excluded.version`),
          )
          .returning('id')
          .executeTakeFirst();
        const contractUuid =
          contract?.id ??
          (
            await trx
              .selectFrom('contracts')
              .select('id')
              .where('tenant_id', '=', input.tenantId)
              .where('contract_key', '=', input.contractId)
              .executeTakeFirstOrThrow()
          ).id;
        await appendEvent(trx, {
          tenantId: input.tenantId,
          type: 'contract.generated',
          actor: SYSTEM,
          entity: { type: 'contract', id: input.contractId },
          flowId: input.flowId,
          payload: { version: input.version, sha256: document.sha256, documentId: document.id },
          idempotencyKey: `${input.flowId}/contract.generated/v${input.version}`,
        });
        return { contractUuid, documentId: document.id, sha256: document.sha256, version: input.version };
      });
    },

    /** Opens an envelope for this contract version with the built-in signing page; the same version reuses it. */
    async createEnvelope(
      input: ContractRef & { contractUuid: string; sha256: string; linkValidForMs: number },
    ): Promise<Envelope> {
      // No envelope is opened that no link could sign.
      requireSigningSecret();
      const envelopeId = `env-${input.contractUuid}-v${input.version}`;
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('signature_envelopes')
          .values({
            id: envelopeId,
            tenant_id: input.tenantId,
            provider: 'local',
            contract_id: input.contractUuid,
            contract_version: input.version,
            document_sha256: input.sha256,
            flow_id: input.flowId,
            status: 'sent',
            expires_at: new Date(Date.now() + input.linkValidForMs),
          })
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
        await appendEvent(trx, {
          tenantId: input.tenantId,
          type: 'contract.envelope.created',
          actor: SYSTEM,
          entity: { type: 'contract', id: input.contractId },
          flowId: input.flowId,
          payload: { envelopeId, provider: 'local', version: input.version, sha256: input.sha256 },
          idempotencyKey: `${input.flowId}/contract.envelope.created/v${input.version}`,
        });
      });
      const envelope = await envelopeOf(envelopeId);
      return { envelopeId, expiresAt: envelope.expires_at.toISOString() };
    },

    async sendSigningLink(
      input: ContractRef & { envelope: Envelope; proposal: Proposal; resendDecision?: string },
    ): Promise<void> {
      const { proposal } = input;
      await sendEmail(deps, {
        tenantId: input.tenantId,
        flowId: input.flowId,
        idempotencyKey: `${input.flowId}/signing-link/v${input.version}`,
        template: 'contract.signing-link',
        resendDecision: input.resendDecision,
        to: proposal.customer.email,
        subject: `Your contract ${input.contractId} is ready to sign`,
        text: [
          `Hello ${proposal.customer.name},`,
          '',
          `thank you for accepting our proposal "${proposal.title}" (${formatMoney(proposalTotal(proposal), proposal.currency)}).`,
          'Please read and sign the contract here:',
          '',
          await linkTo(input.envelope),
          '',
          `The link is valid until ${input.envelope.expiresAt.slice(0, 10)}.`,
          '',
          deps.companyName,
        ].join('\n'),
      });
      await db
        .updateTable('contracts')
        .set({ state: 'SENT', updated_at: sql`now()` })
        .where('tenant_id', '=', input.tenantId)
        .where('contract_key', '=', input.contractId)
        .where('state', '=', 'GENERATED')
        .execute();
    },

    async sendSigningReminder(
      input: ContractRef & { envelope: Envelope; proposal: Proposal; reminder: number },
    ) {
      await sendEmail(deps, {
        tenantId: input.tenantId,
        flowId: input.flowId,
        idempotencyKey: `${input.flowId}/signing-reminder/v${input.version}/${input.reminder}`,
        template: 'contract.signing-reminder',
        to: input.proposal.customer.email,
        subject: `Reminder: contract ${input.contractId} is waiting for your signature`,
        text: [
          `Hello ${input.proposal.customer.name},`,
          '',
          `your contract ${input.contractId} is still waiting for your signature:`,
          '',
          await linkTo(input.envelope),
          '',
          deps.companyName,
        ].join('\n'),
      });
    },

    /** Closes an open envelope so its link no longer signs anything. */
    /**
     * What was recorded of the customer's answer on an envelope (the signing page's or the provider's): the flow
     * acts on this, never on what a signal says.
     */
    async readSignature(input: {
      tenantId: string;
      envelopeId: string;
    }): Promise<SignatureEvent | undefined> {
      const envelope = await db
        .selectFrom('signature_envelopes')
        .select(['status', 'signer_name', 'signed_at', 'declined_at', 'decline_reason'])
        .where('tenant_id', '=', input.tenantId)
        .where('id', '=', input.envelopeId)
        .executeTakeFirst();
      if (envelope?.status === 'completed' && envelope.signed_at)
        return {
          envelopeId: input.envelopeId,
          outcome: 'signed',
          signerName: envelope.signer_name ?? undefined,
          occurredAt: envelope.signed_at.toISOString(),
        };
      if (envelope?.status === 'declined' || (envelope?.status === 'voided' && envelope.declined_at))
        return {
          envelopeId: input.envelopeId,
          outcome: 'declined',
          reason:
            envelope.status === 'voided'
              ? `the envelope was voided: ${envelope.decline_reason ?? 'no reason given'}`
              : (envelope.decline_reason ?? undefined),
          occurredAt: (envelope.declined_at ?? new Date()).toISOString(),
        };
      return undefined;
    },

    async voidEnvelope(
      input: ContractRef & { envelopeId: string; reason: string; because?: 'replaced' | 'cancelled' },
    ): Promise<void> {
      // Builds before flowdesk-3 give only the reason's words.
      const because = input.because ?? (input.reason.startsWith('replaced') ? 'replaced' : 'cancelled');
      await db.transaction().execute(async (trx) => {
        const voided = await trx
          .updateTable('signature_envelopes')
          .set({ status: 'voided', voided_because: because })
          .where('id', '=', input.envelopeId)
          .where('status', '=', 'sent')
          .executeTakeFirst();
        if (voided.numUpdatedRows === 0n) return;
        await appendEvent(trx, {
          tenantId: input.tenantId,
          type: 'contract.envelope.voided',
          actor: SYSTEM,
          entity: { type: 'contract', id: input.contractId },
          flowId: input.flowId,
          payload: { envelopeId: input.envelopeId, reason: input.reason },
          idempotencyKey: `${input.flowId}/contract.envelope.voided/${input.envelopeId}`,
        });
      });
    },
  };
}

export type ContractActivities = ReturnType<typeof contractActivities>;
