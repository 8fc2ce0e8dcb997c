import { msToNumber } from '@temporalio/common';
import { proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ContractActivities, Envelope } from '../activities/contracts.js';
import {
  type ContractSigningInput,
  contractDeclined,
  contractSigned,
  contractSigningFlow,
  type SignatureEvent,
  type SignedContract,
} from '../domain/contract.js';
import { Flow, resendDecision } from './kernel/index.js';
import { outsideStepActivityOptions, readActivityOptions, stepActivityOptions } from './kernel/retry.js';

/**
 * Contract signing: render the contract, open an envelope, email the signing link, then wait for the signature
 * with reminders. At the deadline, or when the customer declines, an operator decides: extend the deadline,
 * resend a new version, or cancel (which voids the open envelope).
 */
export async function contractSigning(input: ContractSigningInput): Promise<SignedContract> {
  const flow = new Flow(contractSigningFlow, {
    businessKey: input.contractId,
    tenantId: input.tenantId,
    retry: input.retry,
  });
  const contracts = proxyActivities<ContractActivities>(stepActivityOptions(input.retry));
  const records = proxyLocalActivities<ContractActivities>(readActivityOptions(input.retry));
  const envelopes = proxyActivities<ContractActivities>(outsideStepActivityOptions(input.retry));
  const flowId = workflowInfo().workflowId;
  const { proposal, contractId, tenantId } = input;

  let envelope: Envelope | undefined;
  let signature: SignatureEvent | undefined;
  let declined: SignatureEvent | undefined;
  // A signal is news that an answer was recorded; the answer is read from the records, for the envelope
  // currently out for signature only (a late answer on a voided one changes nothing).
  let heard = 0;
  let acted = 0;
  setHandler(contractSigned, () => {
    heard++;
  });
  setHandler(contractDeclined, () => {
    heard++;
  });
  flow.onCancel('voidEnvelope', async () => {
    if (envelope && !signature) {
      await envelopes.voidEnvelope({
        tenantId,
        flowId,
        contractId,
        version,
        envelopeId: envelope.envelopeId,
        reason: 'flow cancelled',
        because: 'cancelled',
      });
    }
  });

  let version = 0;
  return flow.run(async () => {
    for (;;) {
      version++;
      const ref = { tenantId, flowId, contractId, version };
      const contract = await flow.step('generateContract', () =>
        contracts.generateContract({ ...ref, proposal }),
      );
      const current = await flow.step('createEnvelope', () =>
        contracts.createEnvelope({
          ...ref,
          contractUuid: contract.contractUuid,
          sha256: contract.sha256,
          // The link outlives the deadline, so an operator's extension does not strand the customer.
          linkValidForMs: msToNumber(input.signing.deadline) * 2,
        }),
      );
      envelope = current;
      await flow.step(
        'sendSigningLink',
        (retry) =>
          contracts.sendSigningLink({
            ...ref,
            envelope: current,
            proposal,
            resendDecision: resendDecision(retry),
          }),
        {
          manual: () => undefined,
        },
      );

      const outcome = await flow.waitFor(
        'awaitSignature',
        () => signature !== undefined || declined !== undefined,
        {
          deadline: input.signing.deadline,
          remindEvery: input.signing.remindEvery,
          remind: (reminder) =>
            contracts.sendSigningReminder({ ...ref, envelope: current, proposal, reminder }),
          onDeadline: ['extend', 'resend'],
          news: () => heard !== acted,
          reread: async () => {
            acted = heard;
            const answer = await flow.within('awaitSignature', () =>
              records.readSignature({ tenantId, envelopeId: current.envelopeId }),
            );
            if (answer?.outcome === 'signed') signature = answer;
            else if (answer?.outcome === 'declined') declined = answer;
          },
        },
      );
      if (signature) {
        return {
          contractId,
          version,
          documentSha256: contract.sha256,
          envelopeId: current.envelopeId,
          signerName: signature.signerName,
          signedAt: signature.occurredAt,
        };
      }
      if (outcome.done && declined) {
        const reason = declined.reason ? `: ${declined.reason}` : '';
        await flow.needsAttention(flow.stepNamed('awaitSignature'), {
          reason: 'declined',
          error: `the customer declined the contract${reason}`,
          options: ['resend'],
        });
      }
      // Resend: the open envelope is closed and a new version goes out.
      await envelopes.voidEnvelope({
        ...ref,
        envelopeId: current.envelopeId,
        reason: 'replaced by a new version',
        because: 'replaced',
      });
      declined = undefined;
    }
  });
}
