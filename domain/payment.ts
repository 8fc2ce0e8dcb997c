/**
 * Money as finance sees it: why a payment could not be applied, and what the API lists. No zod here: the
 * workflow bundle imports this file.
 */

/** Why a payment Stripe (or a bank) reported waits for finance instead of paying an invoice. */
export const UNAPPLIED_REASONS = ['unknown_invoice', 'currency_mismatch', 'invoice_cancelled'] as const;
export type UnappliedReason = (typeof UNAPPLIED_REASONS)[number];

export const UNAPPLIED_REASON_TEXT: Record<UnappliedReason, string> = {
  unknown_invoice: 'no invoice of this tenant matches it',
  currency_mismatch: 'its currency is not the invoice’s',
  invoice_cancelled: 'its invoice is cancelled',
};
