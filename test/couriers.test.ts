import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AfterShipWebhook,
  isAfterShipSignature,
  movesForward,
  progressOf,
  signAfterShip,
} from '../integrations/couriers/aftership.js';
import { startCourierSimulator } from '../scripts/simulators/courier.js';

const SECRET = 'aftership-webhook-secret';
const body = JSON.stringify({
  ts: 1_796_572_800,
  event: 'tracking_update',
  event_id: '1c7a4a0b-3f9f-4c7e-9d9e-2b8a1c1d2e3f',
  is_tracking_first_tag: true,
  msg: { tracking_number: '9400111899223197428490', slug: 'usps', tag: 'InTransit', subtag: 'InTransit_001' },
});

describe("AfterShip's tracking webhooks", () => {
  it('are accepted only with the base64 HMAC-SHA256 of the raw body under the secret', () => {
    // The documented algorithm, computed here on its own: the adapter must agree with it.
    const documented = createHmac('sha256', SECRET).update(body).digest('base64');
    expect(signAfterShip(SECRET, body)).toBe(documented);
    expect(isAfterShipSignature(SECRET, body, documented)).toBe(true);
    expect(isAfterShipSignature(SECRET, `${body} `, documented)).toBe(false);
    expect(isAfterShipSignature('another secret', body, documented)).toBe(false);
    expect(isAfterShipSignature(SECRET, body, undefined)).toBe(false);
    expect(
      isAfterShipSignature(
        SECRET,
        body,
        documented.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
      ),
    ).toBe(false);
  });

  it('parse into a tracking status that only moves forward; an exception needs a person', () => {
    const parsed = AfterShipWebhook.parse(JSON.parse(body));
    expect(progressOf(parsed.msg.tag)).toBe('in_transit');
    expect(progressOf('InfoReceived')).toBe('ready');
    expect(progressOf('OutForDelivery')).toBe('in_transit');
    expect(progressOf('Delivered')).toBe('delivered');
    expect(progressOf('Exception')).toBe('exception');
    expect(movesForward('ready', 'in_transit')).toBe(true);
    expect(movesForward('in_transit', 'in_transit')).toBe(false);
    expect(movesForward('in_transit', 'ready')).toBe(false);
    expect(movesForward('in_transit', 'delivered')).toBe(true);
    expect(movesForward('delivered', 'in_transit')).toBe(false);
    expect(movesForward('delivered', 'exception')).toBe(false);
    expect(movesForward('in_transit', 'exception')).toBe(true);
    expect(movesForward('exception', 'exception')).toBe(false);
    expect(movesForward('exception', 'delivered')).toBe(true);
    expect(
      AfterShipWebhook.safeParse({
        ...JSON.parse(body),
        msg: { tracking_number: 'x', slug: 'usps', tag: 'Lost' },
      }).success,
    ).toBe(false);
  });
});

describe('the courier simulator', () => {
  it('moves a tracking through its tags, signs each webhook, and answers polls', async () => {
    const received: { body: string; signature?: string }[] = [];
    const { serve } = await import('@hono/node-server');
    const { Hono } = await import('hono');
    const app = new Hono().post('/hook', async (c) => {
      received.push({ body: await c.req.text(), signature: c.req.header('aftership-hmac-sha256') });
      return c.body(null, 200);
    });
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const port = (server.address() as { port: number }).port;
    const courier = await startCourierSimulator({
      webhookSecret: SECRET,
      schedule: { InTransit: 20, Delivered: 60 },
      faults: { webhookCopies: 2 },
    });
    try {
      courier.track('dhl', 'JD0001', `http://127.0.0.1:${port}/hook`);
      await new Promise((resolve) => setTimeout(resolve, 150));
      await courier.settled();
      expect(received).toHaveLength(4);
      for (const { body: raw, signature } of received)
        expect(isAfterShipSignature(SECRET, raw, signature)).toBe(true);
      // Each status twice (the copies of one event are the same event); under load two statuses may overlap.
      const events = received.map(({ body: raw }) => AfterShipWebhook.parse(JSON.parse(raw)));
      expect(events.map((event) => event.msg.tag).sort()).toEqual([
        'Delivered',
        'Delivered',
        'InTransit',
        'InTransit',
      ]);
      expect(new Set(events.map((event) => event.event_id)).size).toBe(2);
      const polled = (await (await fetch(`${courier.url}/trackings/dhl/JD0001`)).json()) as {
        data: { tracking: { tag: string } };
      };
      expect(polled.data.tracking.tag).toBe('Delivered');
      expect((await fetch(`${courier.url}/trackings/dhl/NOPE`)).status).toBe(404);
    } finally {
      await courier.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
