import { defineSignal } from '@temporalio/workflow';
import type { EmailRetryInput } from './flow.schema.js';
import { defineFlow } from './flowDefinition.js';

/** Contract signing as the workflow and its callers know it: steps, id, signals. Schemas: `contract.schema.ts`. */
export type { ContractSigningInput, SigningSettings } from './contract.schema.js';

/** `resend`: at the deadline or after a decline, void the envelope and send a new version of the contract. */
export const contractSigningFlow = defineFlow<{ retry: EmailRetryInput; resend: Record<string, never> }>()({
  type: 'contractSigning',
  idPrefix: 'contract',
  steps: ['generateContract', 'createEnvelope', 'sendSigningLink', 'awaitSignature'],
  decisions: ['resend'],
});

export const contractFlowId = contractSigningFlow.flowId;

/** Sent by the signing page or a provider's webhook once the signature is recorded. */
export interface SignatureEvent {
  envelopeId: string;
  signerName?: string;
  reason?: string;
  occurredAt: string;
}

export const contractSigned = defineSignal<[SignatureEvent]>('contractSigned');
export const contractDeclined = defineSignal<[SignatureEvent]>('contractDeclined');

export interface SignedContract {
  contractId: string;
  version: number;
  documentSha256: string;
  envelopeId: string;
  signerName?: string;
  signedAt: string;
}
