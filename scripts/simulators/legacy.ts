import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { RegisterDeviceRequest } from '../../integrations/legacy/protocol.js';

/**
 * The legacy device-and-asset system as the bridge speaks to it (README, "Legacy bridge"), for tests and the demo:
 * it registers devices (honouring Idempotency-Key), assigns them to assets, mirrors companies, and can be told to
 * fail, go slow or go down, as the real one does.
 */

export interface LegacyFaults {
  /** Every request answers 503 until this is turned off. */
  down: boolean;
  /** The next n requests answer 503. */
  failNext: number;
  /** Each answer waits this long. */
  lagMs: number;
}

export interface LegacySimulator {
  url: string;
  faults: LegacyFaults;
  /** Every request it got: method, path, correlation id, what it answered. */
  calls: { method: string; path: string; correlationId?: string; status: number }[];
  devices: Map<string, { deviceId: string; serial: string; companyId: string; assetId?: string }>;
  stop(): Promise<void>;
}

export async function startLegacySimulator(
  options: { port?: number; token?: string; faults?: Partial<LegacyFaults> } = {},
): Promise<LegacySimulator> {
  const faults: LegacyFaults = { down: false, failNext: 0, lagMs: 0, ...options.faults };
  const calls: LegacySimulator['calls'] = [];
  const devices: LegacySimulator['devices'] = new Map();
  const byIdempotencyKey = new Map<string, string>();
  const app = new Hono();

  app.use('*', async (c, next) => {
    const entry = {
      method: c.req.method,
      path: c.req.path,
      correlationId: c.req.header('x-correlation-id'),
      status: 0,
    };
    calls.push(entry);
    if (faults.lagMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.lagMs));
    if (options.token && c.req.header('authorization') !== `Bearer ${options.token}`) {
      entry.status = 401;
      return c.json({ error: 'unauthorized' }, 401);
    }
    if (faults.down || faults.failNext > 0) {
      if (faults.failNext > 0) faults.failNext--;
      entry.status = 503;
      return c.json({ error: 'unavailable' }, 503);
    }
    await next();
    entry.status = c.res.status;
  });

  app.post('/devices', async (c) => {
    const parsed = RegisterDeviceRequest.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return c.json({ error: 'bad request' }, 400);
    // The legacy system knows no such serial: it refuses, and asking again will not change that.
    if (parsed.data.serial.startsWith('UNKNOWN')) return c.json({ error: 'unknown serial' }, 422);
    const key = c.req.header('idempotency-key');
    const known = key ? byIdempotencyKey.get(key) : undefined;
    const existing = known ? devices.get(known) : undefined;
    if (existing)
      return c.json({ deviceId: existing.deviceId, serial: existing.serial, status: 'registered' }, 200);
    const deviceId = `dev_${randomBytes(6).toString('hex')}`;
    devices.set(deviceId, { deviceId, serial: parsed.data.serial, companyId: parsed.data.companyId });
    if (key) byIdempotencyKey.set(key, deviceId);
    return c.json({ deviceId, serial: parsed.data.serial, status: 'registered' }, 201);
  });

  app.put('/assets/:assetId/devices/:deviceId', (c) => {
    const device = devices.get(c.req.param('deviceId'));
    if (!device) return c.json({ error: 'no such device' }, 404);
    device.assetId = c.req.param('assetId');
    return c.json({ assetId: device.assetId, deviceId: device.deviceId, assigned: true }, 200);
  });

  app.delete('/assets/:assetId/devices/:deviceId', (c) => {
    const device = devices.get(c.req.param('deviceId'));
    if (device?.assetId === c.req.param('assetId')) device.assetId = undefined;
    return c.json(
      { assetId: c.req.param('assetId'), deviceId: c.req.param('deviceId'), assigned: false },
      200,
    );
  });

  app.post('/companies/:companyId/mirror', (c) => {
    const companyId = c.req.param('companyId');
    const count = [...devices.values()].filter((device) => device.companyId === companyId).length;
    return c.json({ companyId, devices: count, syncedAt: new Date().toISOString() }, 200);
  });

  const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    faults,
    calls,
    devices,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
