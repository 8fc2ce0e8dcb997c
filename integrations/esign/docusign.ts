import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * DocuSign Connect (JSON SIM messages). Connect signs the raw body with HMAC-SHA256 under each active Connect
 * key and sends one base64 digest per key in `X-DocuSign-Signature-1`, `-2`, …; one match is enough, which
 * lets a key be rotated without dropping messages.
 */
export function verifyConnectSignature(
  raw: string,
  headers: Record<string, string>,
  secret: string,
): boolean {
  const expected = createHmac('sha256', secret).update(raw, 'utf8').digest();
  return Object.entries(headers).some(([name, value]) => {
    if (!/^x-docusign-signature-\d+$/i.test(name)) return false;
    const presented = Buffer.from(value, 'base64');
    return presented.length === expected.length && timingSafeEqual(presented, expected);
  });
}

const Signer = z.object({
  name: z.string().optional(),
  email: z.string().optional(),
  status: z.string().optional(),
  declinedReason: z.string().optional(),
});

export const ConnectMessage = z
  .object({
    event: z.string().min(1),
    generatedDateTime: z.iso.datetime({ offset: true }).optional(),
    data: z.object({
      envelopeId: z.string().min(1).max(200),
      envelopeSummary: z
        .object({
          status: z.string().optional(),
          voidedReason: z.string().optional(),
          recipients: z.object({ signers: z.array(Signer).optional() }).optional(),
        })
        .optional(),
    }),
  })
  .loose();
export type ConnectMessage = z.infer<typeof ConnectMessage>;

export const CONNECT_OUTCOMES = {
  'envelope-completed': 'signed',
  'envelope-declined': 'declined',
  'envelope-voided': 'voided',
} as const;

/** The decision a Connect message reports, or undefined for the events Flowdesk does not act on. */
export function connectDecision(message: ConnectMessage) {
  const outcome = CONNECT_OUTCOMES[message.event as keyof typeof CONNECT_OUTCOMES];
  if (!outcome) return undefined;
  const summary = message.data.envelopeSummary;
  const signers = summary?.recipients?.signers ?? [];
  const signer = signers.find((s) => s.status === outcome || s.status === 'completed') ?? signers[0];
  return {
    envelopeId: message.data.envelopeId,
    outcome,
    signerName: signer?.name,
    reason:
      outcome === 'voided' ? summary?.voidedReason : signers.find((s) => s.declinedReason)?.declinedReason,
    occurredAt: message.generatedDateTime ? new Date(message.generatedDateTime) : new Date(),
  };
}
