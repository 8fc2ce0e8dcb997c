import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import {
  PlaceOrderRequest,
  type RemoteOrder,
  type SupplierStatus,
  type SupplierWebhook,
  signWebhook,
} from '../../integrations/suppliers/protocol.js';

/**
 * A supplier that speaks the `rest` protocol (README, "Supplier protocol"), for tests and the demo: it takes
 * orders (honouring Idempotency-Key), moves them through their states on a schedule, sends signed webhooks,
 * answers polls and cancellations, and can be told to misbehave as real supplier systems do.
 */

/** Milliseconds after an order is placed at which it reaches each status; a status left out is never reached by itself. */
export interface Schedule {
  accepted?: number;
  in_production?: number;
  shipped?: number;
}

export interface Faults {
  /** The next n API requests answer 503. */
  failNext: number;
  /** Every API request answers 503 until this is turned off. */
  down: boolean;
  /** Each API answer waits this long. */
  lagMs: number;
  /** How many times each webhook is delivered (1: once, as it should be). */
  webhookCopies: number;
  /** Webhooks are held until the order ships, then delivered in random order (late and out of order). */
  shuffleWebhooks: boolean;
}

export interface SimulatorOptions {
  port?: number;
  host?: string;
  /** The bearer token it expects; none accepts any caller. */
  credentials?: string;
  webhookSecret: string;
  schedule?: Schedule;
  /** The ship date it promises on acceptance, this long after the order was placed. */
  promiseShipIn?: number;
  faults?: Partial<Faults>;
}

interface SimulatedOrder extends RemoteOrder {
  lines: PlaceOrderRequest['lines'];
  callbackUrl?: string;
  placedAt: number;
  timers: NodeJS.Timeout[];
  held: string[];
}

const ORDER: SupplierStatus[] = ['pending', 'accepted', 'in_production', 'shipped'];

export interface SupplierSimulator {
  url: string;
  orders: Map<string, SimulatedOrder>;
  /** Every API request it answered, in order: method, path, status. */
  requests: { method: string; path: string; status: number; idempotencyKey?: string }[];
  /** Every webhook delivery it made: the event id, the status it reported, and Flowdesk's answer. */
  deliveries: { eventId: string; reference: string; status: SupplierStatus; answer: number }[];
  faults: Faults;
  schedule: Schedule;
  /** Moves an order to `status` now (as if the supplier's staff did), sending its webhook. */
  advance(reference: string, status: SupplierStatus): Promise<void>;
  /** Waits until every webhook it has started delivering is answered. */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSupplierSimulator(options: SimulatorOptions): Promise<SupplierSimulator> {
  const orders = new Map<string, SimulatedOrder>();
  const byReference = new Map<string, string>();
  const idempotency = new Map<string, { fingerprint: string; order: string }>();
  const requests: SupplierSimulator['requests'] = [];
  const deliveries: SupplierSimulator['deliveries'] = [];
  const inFlight = new Set<Promise<void>>();
  const faults: Faults = {
    failNext: 0,
    down: false,
    lagMs: 0,
    webhookCopies: 1,
    shuffleWebhooks: false,
    ...options.faults,
  };
  const schedule: Schedule = { ...options.schedule };
  let stopped = false;

  const view = (order: SimulatedOrder): RemoteOrder => ({
    id: order.id,
    reference: order.reference,
    status: order.status,
    expectedShipDate: order.expectedShipDate ?? null,
  });

  async function deliver(order: SimulatedOrder, body: string, status: SupplierStatus) {
    if (!order.callbackUrl || stopped) return;
    const eventId = (JSON.parse(body) as SupplierWebhook).id;
    // A real supplier retries a delivery that was not acknowledged; three tries here.
    for (let attempt = 1; attempt <= 3 && !stopped; attempt++) {
      try {
        const response = await fetch(order.callbackUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'supplier-signature': signWebhook(options.webhookSecret, body),
          },
          body,
        });
        await response.arrayBuffer();
        deliveries.push({ eventId, reference: order.reference, status, answer: response.status });
        if (response.status < 500) return;
      } catch {
        deliveries.push({ eventId, reference: order.reference, status, answer: 0 });
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }

  function send(order: SimulatedOrder, body: string, status: SupplierStatus) {
    for (let copy = 0; copy < faults.webhookCopies; copy++) {
      const delivery = deliver(order, body, status).finally(() => inFlight.delete(delivery));
      inFlight.add(delivery);
    }
  }

  function changeStatus(order: SimulatedOrder, status: SupplierStatus) {
    if (order.status === 'cancelled' || ORDER.indexOf(status) <= ORDER.indexOf(order.status)) return;
    order.status = status;
    if (status === 'accepted' && options.promiseShipIn !== undefined) {
      order.expectedShipDate = new Date(order.placedAt + options.promiseShipIn).toISOString();
    }
    const event: SupplierWebhook = {
      id: `evt_${randomBytes(8).toString('hex')}`,
      type: 'order.updated',
      created: new Date().toISOString(),
      data: view(order),
    };
    const body = JSON.stringify(event);
    if (!faults.shuffleWebhooks) {
      send(order, body, status);
      return;
    }
    order.held.push(body);
    if (status === 'shipped') {
      const held = order.held.splice(0).sort(() => Math.random() - 0.5);
      for (const late of held) send(order, late, (JSON.parse(late) as SupplierWebhook).data.status);
    }
  }

  function plan(order: SimulatedOrder) {
    for (const status of ['accepted', 'in_production', 'shipped'] as const) {
      const after = schedule[status];
      if (after === undefined) continue;
      order.timers.push(setTimeout(() => changeStatus(order, status), after));
    }
  }

  const app = new Hono();
  app.use('/orders/*', async (c, next) => {
    if (faults.lagMs) await new Promise((resolve) => setTimeout(resolve, faults.lagMs));
    if (faults.down || faults.failNext > 0) {
      if (faults.failNext > 0) faults.failNext--;
      requests.push({ method: c.req.method, path: c.req.path, status: 503 });
      return c.json({ error: 'service unavailable' }, 503);
    }
    if (options.credentials && c.req.header('authorization') !== `Bearer ${options.credentials}`) {
      requests.push({ method: c.req.method, path: c.req.path, status: 401 });
      return c.json({ error: 'unauthorized' }, 401);
    }
    await next();
    requests.push({
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      idempotencyKey: c.req.header('idempotency-key'),
    });
  });

  app.post('/orders', async (c) => {
    const key = c.req.header('idempotency-key');
    if (!key) return c.json({ error: 'Idempotency-Key header required' }, 400);
    const text = await c.req.text();
    const parsed = PlaceOrderRequest.safeParse(JSON.parse(text || 'null'));
    if (!parsed.success) return c.json({ error: parsed.error.message }, 400);
    const fingerprint = createHash('sha256').update(text).digest('hex');
    const seen = idempotency.get(key);
    if (seen) {
      if (seen.fingerprint !== fingerprint)
        return c.json({ error: 'Idempotency-Key reused with another body' }, 422);
      c.header('idempotent-replayed', 'true');
      return c.json(view(orders.get(seen.order) as SimulatedOrder), 200);
    }
    const order: SimulatedOrder = {
      id: `so_${randomBytes(6).toString('hex')}`,
      reference: parsed.data.reference,
      status: 'pending',
      expectedShipDate: null,
      lines: parsed.data.lines,
      callbackUrl: parsed.data.callbackUrl,
      placedAt: Date.now(),
      timers: [],
      held: [],
    };
    orders.set(order.id, order);
    byReference.set(order.reference, order.id);
    idempotency.set(key, { fingerprint, order: order.id });
    plan(order);
    return c.json(view(order), 201);
  });

  app.get('/orders/:id', (c) => {
    const order = orders.get(c.req.param('id'));
    return order ? c.json(view(order)) : c.json({ error: 'no such order' }, 404);
  });

  app.post('/orders/:id/cancel', (c) => {
    const order = orders.get(c.req.param('id'));
    if (!order) return c.json({ error: 'no such order' }, 404);
    if (order.status === 'shipped') return c.json({ error: 'already shipped' }, 409);
    order.status = 'cancelled';
    for (const timer of order.timers) clearTimeout(timer);
    return c.json(view(order));
  });

  // Staff controls, for the demo and for people trying an adapter out.
  app.post('/_sim/orders/:reference/advance', async (c) => {
    const { status } = (await c.req.json()) as { status: SupplierStatus };
    const id = byReference.get(c.req.param('reference'));
    const order = id ? orders.get(id) : undefined;
    if (!order) return c.json({ error: 'no such order' }, 404);
    changeStatus(order, status);
    return c.json(view(order));
  });
  app.put('/_sim/faults', async (c) => {
    Object.assign(faults, await c.req.json());
    return c.json(faults);
  });
  app.get('/_sim/orders', (c) => c.json([...orders.values()].map(view)));

  async function settled() {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  }

  const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: options.host ?? '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address() as AddressInfo;

  return {
    url: `http://${address.address}:${address.port}`,
    orders,
    requests,
    deliveries,
    faults,
    schedule,
    async advance(reference, status) {
      const id = byReference.get(reference);
      const order = id ? orders.get(id) : undefined;
      if (!order) throw new Error(`the simulator has no order ${reference}`);
      changeStatus(order, status);
      await settled();
    },
    settled,
    async stop() {
      stopped = true;
      for (const order of orders.values()) for (const timer of order.timers) clearTimeout(timer);
      await settled();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
