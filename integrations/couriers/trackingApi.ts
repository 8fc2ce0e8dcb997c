import { TRACKING_TAGS, type TrackingTag } from './aftership.js';

/**
 * AfterShip's tracking API, as far as Flowdesk uses it (README, "Couriers"): `POST /trackings` starts tracking a
 * shipment (its webhooks follow), `GET /trackings/{slug}/{tracking_number}` reads its tag (for couriers polled
 * rather than heard from). Every call carries the account's `as-api-key`.
 */
export function trackingApi(options: { apiUrl: string; apiKey?: string }) {
  const headers = {
    'content-type': 'application/json',
    ...(options.apiKey ? { 'as-api-key': options.apiKey } : {}),
  };
  const trackingPath = (slug: string, trackingNumber: string) =>
    `${options.apiUrl}/trackings/${encodeURIComponent(slug)}/${encodeURIComponent(trackingNumber)}`;
  return {
    /** Starts tracking; one AfterShip already tracks (code 4003) is fine. */
    async register(slug: string, trackingNumber: string): Promise<void> {
      const response = await fetch(`${options.apiUrl}/trackings`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ tracking: { slug, tracking_number: trackingNumber } }),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.ok) return;
      const body = (await response.json().catch(() => ({}))) as {
        meta?: { code?: number; message?: string };
      };
      if (body.meta?.code === 4003) return;
      throw new Error(
        `the tracking API answered ${response.status}: ${body.meta?.message ?? 'no reason given'}`,
      );
    },

    async tagOf(slug: string, trackingNumber: string): Promise<TrackingTag> {
      const response = await fetch(trackingPath(slug, trackingNumber), {
        headers,
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new Error(`the tracking API answered ${response.status}`);
      const body = (await response.json()) as { data?: { tracking?: { tag?: string } } };
      const tag = body.data?.tracking?.tag;
      if (!tag || !TRACKING_TAGS.includes(tag as TrackingTag))
        throw new Error(`no known tag in the answer: ${tag}`);
      return tag as TrackingTag;
    },
  };
}

export type TrackingApi = ReturnType<typeof trackingApi>;
