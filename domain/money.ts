/** Money is integer minor units plus an ISO currency; this turns it into what a person reads. */
export function formatMoney(minorUnits: number, currency: string, locale = 'en-GB'): string {
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minorUnits / 10 ** digits);
}
