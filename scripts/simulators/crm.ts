import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

/**
 * A KeyCRM project, for tests and the demo (README, "Status analytics"): it keeps orders and their statuses,
 * sends the `order.change_order_status` webhook when an order moves (duplicated, delayed, held back and sent late
 * on demand), and answers the two API calls analytics makes, `GET /v1/order/status` (paged) and
 * `GET /v1/order/{id}?include=products.offer`, with a bearer token and KeyCRM's limit of requests per minute per
 * token (429 beyond it).
 */

export interface CrmStatus {
  id: number;
  name: string;
  alias: string;
  group_id: number;
  is_active: boolean;
}

export interface CrmProduct {
  name: string;
  sku: string | null;
  quantity: number;
  offer: { id: number; product_id: number; sku: string | null };
}

interface CrmOrder {
  id: number;
  status_id: number;
  created_at: string;
  products: CrmProduct[];
}

export interface CrmFaults {
  /** How many times each webhook is delivered. */
  webhookCopies: number;
  /** Each webhook is sent this much later. */
  delayMs: number;
  /** Webhooks are held back until `release()`, then sent newest first. */
  holdBack: boolean;
  /** This many order reads answer 503 before the API works again. */
  failOrderReads: number;
}

/** A status set like a small workshop's: new → approval → production → delivery → completed, or cancelled. */
export const DEFAULT_STATUSES: CrmStatus[] = [
  { id: 1, name: 'New', alias: 'new', group_id: 1, is_active: true },
  { id: 20, name: 'Materials', alias: 'materials', group_id: 2, is_active: true },
  { id: 21, name: 'Layout', alias: 'layout', group_id: 2, is_active: true },
  { id: 22, name: 'Printing', alias: 'printing', group_id: 3, is_active: true },
  { id: 7, name: 'Packing', alias: 'packing', group_id: 3, is_active: true },
  { id: 8, name: 'Handed to courier', alias: 'handed_to_courier', group_id: 4, is_active: true },
  { id: 11, name: 'In transit', alias: 'in_transit', group_id: 4, is_active: true },
  { id: 12, name: 'Completed', alias: 'completed', group_id: 5, is_active: true },
  { id: 19, name: 'Cancelled', alias: 'canceled', group_id: 6, is_active: true },
];

export interface CrmSimulator {
  url: string;
  /** The API base, as a source's `baseUrl`. */
  apiUrl: string;
  statuses: CrmStatus[];
  faults: CrmFaults;
  /** Every API request: path, token and answer. */
  requests: { at: number; path: string; status: number }[];
  /** Webhook deliveries and their answers. */
  deliveries: { orderId: number; statusId: number; answer: number }[];
  /** Where webhooks go (the source's webhook URL with its secret). */
  webhookUrl?: string;
  createOrder(id: number, products: CrmProduct[], createdAt?: Date): void;
  /** Moves an order to a status at a time (now by default) and sends the webhook. */
  changeStatus(id: number, statusId: number, at?: Date): Promise<void>;
  /** Sends the held-back webhooks, newest first. */
  release(): Promise<void>;
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** KeyCRM's own format: `YYYY-MM-DD HH:MM:SS`, here in UTC (the sources the simulator feeds say so). */
const crmTime = (at: Date) => at.toISOString().slice(0, 19).replace('T', ' ');

export async function startCrmSimulator(
  options: {
    token: string;
    ratePerMinute?: number;
    statuses?: CrmStatus[];
    faults?: Partial<CrmFaults>;
    port?: number;
  } = {
    token: 'crm-token',
  },
): Promise<CrmSimulator> {
  const faults: CrmFaults = {
    webhookCopies: 1,
    delayMs: 0,
    holdBack: false,
    failOrderReads: 0,
    ...options.faults,
  };
  const ratePerMinute = options.ratePerMinute ?? 60;
  const orders = new Map<number, CrmOrder>();
  const requests: CrmSimulator['requests'] = [];
  const deliveries: CrmSimulator['deliveries'] = [];
  const held: { orderId: number; statusId: number; body: string }[] = [];
  const inFlight = new Set<Promise<void>>();

  const app = new Hono().basePath('/v1');
  app.use('*', async (c, next) => {
    const now = Date.now();
    const authorized = c.req.header('authorization') === `Bearer ${options.token}`;
    const lastMinute = requests.filter((r) => r.at > now - 60_000 && r.status !== 401).length;
    if (!authorized) {
      requests.push({ at: now, path: c.req.path, status: 401 });
      return c.json({ message: 'Unauthenticated.' }, 401);
    }
    if (lastMinute >= ratePerMinute) {
      requests.push({ at: now, path: c.req.path, status: 429 });
      return c.json({ message: 'Too Many Attempts.' }, 429, { 'retry-after': '60' });
    }
    await next();
    requests.push({ at: now, path: c.req.path, status: c.res.status });
  });
  app.get('/order/status', (c) => {
    const limit = Math.min(50, Number(c.req.query('limit') ?? 15) || 15);
    const page = Math.max(1, Number(c.req.query('page') ?? 1) || 1);
    const all = simulator.statuses;
    const lastPage = Math.max(1, Math.ceil(all.length / limit));
    const next = page < lastPage ? `${simulator.apiUrl}/order/status?limit=${limit}&page=${page + 1}` : null;
    return c.json({
      total: all.length,
      current_page: page,
      per_page: limit,
      last_page: lastPage,
      next_page_url: next,
      data: all.slice((page - 1) * limit, page * limit),
    });
  });
  app.get('/order/:id', (c) => {
    if (faults.failOrderReads > 0) {
      faults.failOrderReads--;
      return c.json({ message: 'Service Unavailable' }, 503);
    }
    const order = orders.get(Number(c.req.param('id')));
    if (!order) return c.json({ message: 'No query results for model [Order].' }, 404);
    const withOffers = c.req.query('include')?.split(',').includes('products.offer');
    return c.json({
      id: order.id,
      status_id: order.status_id,
      created_at: order.created_at,
      products: order.products.map((product) => (withOffers ? product : { ...product, offer: undefined })),
    });
  });

  const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;

  async function deliver(orderId: number, statusId: number, body: string) {
    if (!simulator.webhookUrl) return;
    for (let copy = 0; copy < faults.webhookCopies; copy++) {
      const answer = await fetch(simulator.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
        .then((response) => response.status)
        .catch(() => 0);
      deliveries.push({ orderId, statusId, answer });
    }
  }

  const settled = async () => {
    while (inFlight.size > 0) await Promise.all([...inFlight]);
  };
  const track = (work: Promise<void>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
    return work;
  };

  const simulator: CrmSimulator = {
    url: `http://127.0.0.1:${port}`,
    apiUrl: `http://127.0.0.1:${port}/v1`,
    statuses: options.statuses ?? DEFAULT_STATUSES,
    faults,
    requests,
    deliveries,
    createOrder(id, products, createdAt = new Date()) {
      orders.set(id, { id, status_id: 1, created_at: crmTime(createdAt), products });
    },
    async changeStatus(id, statusId, at = new Date()) {
      const order = orders.get(id);
      if (!order) throw new Error(`the CRM has no order ${id}`);
      const status = simulator.statuses.find((s) => s.id === statusId);
      order.status_id = statusId;
      const body = JSON.stringify({
        event: 'order.change_order_status',
        context: {
          id,
          status_id: statusId,
          status_group_id: status?.group_id,
          status_changed_at: crmTime(at),
          created_at: order.created_at,
          source_uuid: `SIM-${id}`,
        },
      });
      if (faults.holdBack) {
        held.push({ orderId: id, statusId, body });
        return;
      }
      await track(
        (async () => {
          if (faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
          await deliver(id, statusId, body);
        })(),
      );
    },
    async release() {
      const late = held.splice(0).reverse();
      await track(
        (async () => {
          for (const each of late) await deliver(each.orderId, each.statusId, each.body);
        })(),
      );
    },
    settled,
    async stop() {
      await settled();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return simulator;
}
