import { z } from 'zod';

export const BusinessId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be 1-64 letters, digits, ".", "_" or "-"' });

export const Currency = z.string().regex(/^[A-Z]{3}$/, { error: 'must be an ISO 4217 code such as EUR' });

export const Customer = z.object({
  name: z.string().trim().min(1).max(200),
  email: z.email(),
  address: z.string().max(500).optional(),
});
export type Customer = z.infer<typeof Customer>;

export const ProposalLine = z.object({
  description: z.string().trim().min(1).max(500),
  quantity: z.number().int().positive().max(1_000_000),
  /** In minor units of the proposal's currency (cents). */
  unitPrice: z.number().int().nonnegative().max(100_000_000_00),
});
export type ProposalLine = z.infer<typeof ProposalLine>;

export const Proposal = z.object({
  proposalId: BusinessId,
  title: z.string().trim().min(1).max(200),
  customer: Customer,
  currency: Currency,
  lines: z.array(ProposalLine).min(1).max(200),
});
export type Proposal = z.infer<typeof Proposal>;

export function proposalTotal(proposal: Pick<Proposal, 'lines'>): number {
  return proposal.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
}
