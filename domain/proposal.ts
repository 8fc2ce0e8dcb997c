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

/** The largest amount Flowdesk takes, in cents (10 billion in major units): far inside exact integers. */
export const MAX_AMOUNT = 1_000_000_000_000;

export const ProposalLine = z.object({
  description: z.string().trim().min(1).max(500),
  quantity: z.number().int().positive().max(1_000_000),
  /** In minor units of the proposal's currency (cents). */
  unitPrice: z.number().int().nonnegative().max(100_000_000_00),
});
export type ProposalLine = z.infer<typeof ProposalLine>;

/** A proposal's (or an invoice's) lines: each line's total and their sum within MAX_AMOUNT. */
export const ProposalLines = z
  .array(ProposalLine)
  .min(1)
  .max(200)
  .superRefine((lines, ctx) => {
    let total = 0;
    for (const [index, line] of lines.entries()) {
      const amount = line.quantity * line.unitPrice;
      total += amount;
      if (amount > MAX_AMOUNT)
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `the line's total may be at most ${MAX_AMOUNT} cents`,
        });
    }
    if (total > MAX_AMOUNT)
      ctx.addIssue({ code: 'custom', message: `the total may be at most ${MAX_AMOUNT} cents` });
  });

export const Proposal = z.object({
  proposalId: BusinessId,
  title: z.string().trim().min(1).max(200),
  customer: Customer,
  currency: Currency,
  lines: ProposalLines,
});
export type Proposal = z.infer<typeof Proposal>;

export function proposalTotal(proposal: Pick<Proposal, 'lines'>): number {
  return proposal.lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
}
