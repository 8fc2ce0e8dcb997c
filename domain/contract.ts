import { defineSignal } from '@temporalio/workflow';

/** Contract signing as the workflow and its callers know it: steps, id, signals. Schemas: `contract.schema.ts`. */
export type { ContractSigningInput, SigningSettings } from './contract.schema.js';

export const CONTRACT_SIGNING_STEPS = [
  'generateContract',
  'createEnvelope',
  'sendSigningLink',
  'awaitSignature',
] as const;

export function contractFlowId(tenantSlug: string, contractId: string): string {
  return `contract:${tenantSlug}:${contractId}`;
}

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
