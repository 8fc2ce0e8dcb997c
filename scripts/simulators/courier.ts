import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { SIGNATURE_HEADER, signAfterShip, type TrackingTag } from '../../integrations/couriers/aftership.js';

/**
 * A courier as AfterShip reports it (README, "Couriers"), for tests and the demo: it takes shipments to track,
 * moves them through their tags on a schedule, sends signed `tracking_update` webhooks (duplicated, shuffled or
 * late on demand), and answers polls (`GET /trackings/{slug}/{trackingNumber}`).
 */

/** Milliseconds after a tracking starts at which it reaches each tag; tags left out are never reached by themselves. */
export type CourierSchedule = Partial<Record<TrackingTag, number>>;

export interface CourierFaults {
  /** How many times each webhook is delivered (1: once, as it should be). */
  webhookCopies: number;
  /** Webhooks are held until the shipment is delivered, then sent in random order. */
  shuffleWebhooks: boolean;
  /** Each webhook is sent this much later. */
  lateMs: number;
}

interface Tracking {
  slug: string;
  trackingNumber: string;
  tag: TrackingTag;
  callbackUrl?: string;
  timers: NodeJS.Timeout[];
  held: string[];
}

export interface CourierSimulator {
  url: string;
  trackings: Map<string, Tracking>;
  deliveries: { eventId: string; trackingNumber: string; tag: TrackingTag; answer: number }[];
  faults: CourierFaults;
  /**
   * Starts tracking a shipment: its tags follow the schedule (this tracking's own, when given; `{}` moves it only
   * by `advance`), webhooks go to `callbackUrl` if given.
   */
  track(slug: string, trackingNumber: string, callbackUrl?: string, own?: CourierSchedule): void;
  /** Moves a tracking to a tag now (an exception, say). */
  advance(slug: string, trackingNumber: string, tag: TrackingTag): Promise<void>;
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCourierSimulator(options: {
  webhookSecret: string;
  /** Where trackings created through the API (`POST /trackings`) send their webhooks, as an AfterShip account's. */
  callbackUrl?: string;
  schedule?: CourierSchedule;
  faults?: Partial<CourierFaults>;
  port?: number;
}): Promise<CourierSimulator> {
  const faults: CourierFaults = { webhookCopies: 1, shuffleWebhooks: false, lateMs: 0, ...options.faults };
  const schedule = options.schedule ?? {
    InfoReceived: 100,
    InTransit: 300,
    OutForDelivery: 500,
    Delivered: 700,
  };
  const trackings = new Map<string, Tracking>();
  const deliveries: CourierSimulator['deliveries'] = [];
  const inFlight = new Set<Promise<void>>();
  const key = (slug: string, trackingNumber: string) => `${slug}/${trackingNumber}`;

  async function deliver(tracking: Tracking, body: string, tag: TrackingTag, eventId: string) {
    if (!tracking.callbackUrl) return;
    for (let copy = 0; copy < faults.webhookCopies; copy++) {
      const answer = await fetch(tracking.callbackUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signAfterShip(options.webhookSecret, body),
        },
        body,
      })
        .then((response) => response.status)
        .catch(() => 0);
      deliveries.push({ eventId, trackingNumber: tracking.trackingNumber, tag, answer });
    }
  }

  function send(tracking: Tracking, tag: TrackingTag) {
    const eventId = randomUUID();
    const body = JSON.stringify({
      ts: Math.floor(Date.now() / 1000),
      event: 'tracking_update',
      event_id: eventId,
      is_tracking_first_tag: true,
      msg: {
        tracking_number: tracking.trackingNumber,
        slug: tracking.slug,
        tag,
        updated_at: new Date().toISOString(),
      },
    });
    if (faults.shuffleWebhooks && tag !== 'Delivered') {
      tracking.held.push(body);
      return;
    }
    const bodies = faults.shuffleWebhooks
      ? [...tracking.held.splice(0), body].sort(() => Math.random() - 0.5)
      : [body];
    const sending = (async () => {
      if (faults.lateMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.lateMs));
      for (const each of bodies) {
        const parsed = JSON.parse(each) as { event_id: string; msg: { tag: TrackingTag } };
        await deliver(tracking, each, parsed.msg.tag, parsed.event_id);
      }
    })();
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
  }

  function moveTo(tracking: Tracking, tag: TrackingTag) {
    tracking.tag = tag;
    send(tracking, tag);
  }

  const app = new Hono();
  // AfterShip's "create a tracking": from now on the shipment is tracked, and its news goes to the callback.
  app.post('/trackings', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as {
      tracking?: { slug?: string; tracking_number?: string };
    };
    const { slug, tracking_number: trackingNumber } = body.tracking ?? {};
    if (!slug || !trackingNumber)
      return c.json(
        { meta: { code: 4001, message: 'tracking.slug and tracking.tracking_number are required' } },
        400,
      );
    if (!trackings.has(key(slug, trackingNumber))) simulator.track(slug, trackingNumber, options.callbackUrl);
    return c.json(
      { meta: { code: 201 }, data: { tracking: { slug, tracking_number: trackingNumber, tag: 'Pending' } } },
      201,
    );
  });
  app.get('/trackings/:slug/:trackingNumber', (c) => {
    const tracking = trackings.get(key(c.req.param('slug'), c.req.param('trackingNumber')));
    if (!tracking) return c.json({ meta: { code: 4004, message: 'Tracking does not exist.' } }, 404);
    return c.json({
      meta: { code: 200 },
      data: {
        tracking: { tracking_number: tracking.trackingNumber, slug: tracking.slug, tag: tracking.tag },
      },
    });
  });
  const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;

  const settled = async () => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };
  const simulator: CourierSimulator = {
    url: `http://127.0.0.1:${port}`,
    trackings,
    deliveries,
    faults,
    track(slug, trackingNumber, callbackUrl, own) {
      const tracking: Tracking = { slug, trackingNumber, tag: 'Pending', callbackUrl, timers: [], held: [] };
      trackings.set(key(slug, trackingNumber), tracking);
      for (const [tag, after] of Object.entries(own ?? schedule) as [TrackingTag, number][])
        tracking.timers.push(setTimeout(() => moveTo(tracking, tag), after));
    },
    async advance(slug, trackingNumber, tag) {
      const tracking = trackings.get(key(slug, trackingNumber));
      if (!tracking) throw new Error(`the courier tracks no ${slug} ${trackingNumber}`);
      moveTo(tracking, tag);
      await settled();
    },
    settled,
    async stop() {
      for (const tracking of trackings.values()) for (const timer of tracking.timers) clearTimeout(timer);
      await settled();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return simulator;
}
