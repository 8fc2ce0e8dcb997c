import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { DurationText, RetrySettings } from './durations.js';
import { BusinessId, Proposal } from './proposal.js';

export const CONTRACT_SIGNING_STEPS = [
  'generateContract',
  'createEnvelope',
  'sendSigningLink',
  'awaitSignature',
] as const;

export function contractFlowId(tenantSlug: string, contractId: string): string {
  return `contract:${tenantSlug}:${contractId}`;
}

export const SigningSettings = z.object({
  /** After this, the flow needs attention: an operator extends, resends or cancels. */
  deadline: DurationText.prefault('14 days'),
  remindEvery: DurationText.prefault('3 days'),
});
export type SigningSettings = z.infer<typeof SigningSettings>;

export const ContractSigningInput = z.object({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  contractId: BusinessId,
  proposal: Proposal,
  signing: SigningSettings.prefault({}),
  retry: RetrySettings.prefault({}),
});
export type ContractSigningInput = z.infer<typeof ContractSigningInput>;

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
