import Stripe from 'stripe';

/** The Stripe API version Flowdesk is written against; Stripe answers in this shape whatever the account's default. */
export const STRIPE_API_VERSION = '2026-10-28.endive' as const;

export function createStripe(options: { secretKey: string; apiUrl?: string }): Stripe {
  const api = options.apiUrl ? new URL(options.apiUrl) : undefined;
  return new Stripe(options.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 2,
    ...(api
      ? {
          host: api.hostname,
          port: Number(api.port || (api.protocol === 'https:' ? 443 : 80)),
          protocol: api.protocol.replace(':', '') as 'http' | 'https',
        }
      : {}),
  });
}
