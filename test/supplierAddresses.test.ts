import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressRefusal, outsideUrlRefusal } from '../integrations/outbound/address.js';
import { SupplierApiError, supplierApi } from '../integrations/suppliers/rest.js';
import { apiClient, createTestTenant, startTestApi, type TestApi } from './helpers/api.js';

/**
 * A tenant admin types a supplier's API URL and the worker calls it: it must not reach inside Flowdesk's
 * network, follow a redirect there, or bring a remote body back into an event or an error.
 */
const dev = { allowLoopback: true };
const production = { allowLoopback: false };

describe('supplier addresses', () => {
  it('refuses private, link-local, reserved and (outside development) loopback addresses', () => {
    for (const address of [
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.10',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      'fe80::1',
      'fd00::1',
      '::ffff:10.0.0.1',
      '::ffff:169.254.169.254',
    ])
      expect(addressRefusal(address, dev), address).toBe('a private, link-local or reserved address');
    expect(addressRefusal('127.0.0.1', production)).toBe('a loopback address');
    expect(addressRefusal('::1', production)).toBe('a loopback address');
    expect(addressRefusal('127.0.0.1', dev)).toBeUndefined();
    expect(addressRefusal('93.184.216.34', production)).toBeUndefined();
    expect(addressRefusal('2606:2800:220:1::1', production)).toBeUndefined();
  });

  it('takes https, and plain http only to this machine in development', async () => {
    expect(await outsideUrlRefusal('http://169.254.169.254/latest/meta-data', dev)).toMatch(/private/);
    expect(await outsideUrlRefusal('https://10.0.0.8/api', dev)).toMatch(/private/);
    expect(await outsideUrlRefusal('http://127.0.0.1:9999/api', production)).toMatch(/loopback/);
    expect(await outsideUrlRefusal('http://localhost:9999/api', production)).toMatch(/loopback/);
    expect(await outsideUrlRefusal('http://127.0.0.1:9999/api', dev)).toBeUndefined();
    expect(await outsideUrlRefusal('https://user:pw@127.0.0.1/api', dev)).toMatch(/credentials/);
    expect(await outsideUrlRefusal('http://93.184.216.34/api', production)).toMatch(/must be https/);
  });
});

describe('calling a supplier', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url?.startsWith('/redirect/')) {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      } else if (req.url?.startsWith('/broken/')) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('db password is hunter2 at 10.0.0.5');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"internal-secret-value"}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const refusalOf = async (call: Promise<unknown>) => {
    const error = await call.then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(SupplierApiError);
    return error as SupplierApiError;
  };

  it('connects only where the policy allows, by address or by name, and asks no second time', async () => {
    for (const baseUrl of [base, base.replace('127.0.0.1', 'localhost')]) {
      const refused = await refusalOf(supplierApi({ baseUrl, policy: production }).getOrder('o-1'));
      expect(refused.message).toMatch(/loopback address/);
      expect(refused.retryable).toBe(false);
    }
  });

  it('does not follow a redirect, and never repeats what the supplier said', async () => {
    const redirected = await refusalOf(
      supplierApi({ baseUrl: `${base}/redirect`, policy: dev }).getOrder('o-1'),
    );
    expect(redirected.message).toBe('GET /orders/o-1: HTTP 302, a redirect, not followed');
    expect(redirected.retryable).toBe(false);
    const broken = await refusalOf(supplierApi({ baseUrl: `${base}/broken`, policy: dev }).getOrder('o-1'));
    expect(broken.message).toBe('GET /orders/o-1: HTTP 500, a server error');
    expect(broken.retryable).toBe(true);
    const odd = await refusalOf(supplierApi({ baseUrl: base, policy: dev }).getOrder('o-1'));
    expect(odd.message).toMatch(/^GET \/orders\/o-1: not the protocol's answer \(/);
    expect(odd.message).not.toContain('internal-secret-value');
  });
});

describe('registering a supplier at an address inside', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(() => api?.stop());

  it('is refused with 400 naming body.baseUrl, and nothing is written', async () => {
    const tenant = await createTestTenant(api.deps.db);
    const admin = apiClient(api.url, await tenant.key(['admin']));
    const response = await admin.request('PUT', '/v1/suppliers/METADATA', {
      body: {
        name: 'Cloud metadata',
        protocol: 'rest',
        baseUrl: 'http://169.254.169.254/latest',
        credentials: 'whatever-credentials',
        orderEmail: 'orders@supplier.example',
        capabilities: { webhooks: false, polling: true },
      },
    });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      { field: 'body.baseUrl', message: '169.254.169.254 is a private, link-local or reserved address' },
    ]);
    expect(
      await api.deps.db
        .selectFrom('suppliers')
        .select('id')
        .where('tenant_id', '=', tenant.tenantId)
        .execute(),
    ).toEqual([]);
  });
});
