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

/**
 * The customer's answer on an envelope, as recorded by the signing page or a provider's webhook. The signals
 * that announce it are news: the flow reads the answer from the records (builds before flowdesk-3 took the
 * signal's word, and are still sent its fields until they drain).
 */
export interface SignatureEvent {
  envelopeId: string;
  outcome?: 'signed' | 'declined';
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
