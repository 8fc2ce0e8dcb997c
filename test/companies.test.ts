import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, createTestTenant, startTestApi, type TestApi } from './helpers/api.js';

let api: TestApi;
let coordinator: ReturnType<typeof apiClient>;
let viewer: ReturnType<typeof apiClient>;

beforeAll(async () => {
  api = await startTestApi();
  const tenant = await createTestTenant(api.deps.db);
  coordinator = apiClient(api.url, await tenant.key(['coordinator']));
  viewer = apiClient(api.url, await tenant.key(['viewer']));
});
afterAll(() => api?.stop());

const address = (label: string, defaults: Record<string, boolean> = {}) => ({
  label,
  street: `${label} 1`,
  postcode: '10115',
  city: 'Berlin',
  country: 'DE',
  ...defaults,
});

describe('companies', () => {
  it('keep contacts with roles and a primary per role, and one default address of each kind', async () => {
    const companyId = `ACME-${Date.now()}`;
    expect(
      (await coordinator.request('PUT', `/v1/companies/${companyId}`, { body: { name: 'Acme' } })).status,
    ).toBe(201);
    expect(
      (await coordinator.request('PUT', `/v1/companies/${companyId}`, { body: { name: 'Acme GmbH' } }))
        .status,
    ).toBe(200);

    const ada = await coordinator.post(`/v1/companies/${companyId}/contacts`, {
      name: 'Ada',
      email: 'ada@acme.example',
      roles: ['billing', 'executive'],
      primaryFor: ['billing'],
    });
    expect(ada.status, ada.text).toBe(201);
    const refused = await coordinator.post(`/v1/companies/${companyId}/contacts`, {
      name: 'Bob',
      email: 'bob@acme.example',
      roles: ['shipping'],
      primaryFor: ['shipping', 'billing'],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { field: 'body.primaryFor.1', message: 'the contact has no billing role' },
    ]);
    const bob = await coordinator.post(`/v1/companies/${companyId}/contacts`, {
      name: 'Bob',
      email: 'bob@acme.example',
      roles: ['shipping', 'billing'],
      primaryFor: ['shipping', 'billing'],
    });
    expect(bob.status, bob.text).toBe(201);
    expect(
      (
        await coordinator.post(`/v1/companies/${companyId}/contacts`, {
          name: 'Bob',
          email: 'bob@acme.example',
          roles: ['technical'],
        })
      ).status,
    ).toBe(409);

    await coordinator.post(
      `/v1/companies/${companyId}/addresses`,
      address('Warehouse', { defaultShipping: true, defaultBilling: true }),
    );
    const later = await coordinator.post(
      `/v1/companies/${companyId}/addresses`,
      address('Plant', { defaultShipping: true }),
    );
    expect(later.status, later.text).toBe(201);

    const company = (await viewer.get(`/v1/companies/${companyId}`)).body;
    expect(company.name).toBe('Acme GmbH');
    const byEmail = Object.fromEntries(
      company.contacts.map((c: { email: string; contactId: string }) => [c.email, c.contactId]),
    );
    // Bob became the billing primary after Ada: a new primary replaces the one before.
    expect(company.primaryContacts).toEqual({
      billing: byEmail['bob@acme.example'],
      shipping: byEmail['bob@acme.example'],
    });
    expect(
      company.addresses.map((a: { label: string; defaultShipping: boolean; defaultBilling: boolean }) => [
        a.label,
        a.defaultShipping,
        a.defaultBilling,
      ]),
    ).toEqual([
      ['Warehouse', false, true],
      ['Plant', true, false],
    ]);
    expect((await viewer.request('PUT', `/v1/companies/${companyId}`, { body: { name: 'x' } })).status).toBe(
      403,
    );
    expect(
      (
        await coordinator.post('/v1/companies/NOPE-1/contacts', {
          name: 'X',
          email: 'x@x.example',
          roles: ['billing'],
        })
      ).status,
    ).toBe(404);
  });
});

describe('couriers', () => {
  it('are seeded for every tenant, and each tenant changes its own', async () => {
    const listed = (await viewer.get('/v1/couriers')).body.couriers;
    expect(listed.map((courier: { code: string }) => courier.code)).toEqual([
      'canada-post',
      'chitchats',
      'dhl',
      'usps',
    ]);
    expect(listed.find((courier: { code: string }) => courier.code === 'chitchats')).toMatchObject({
      adapter: 'poll',
    });
    const other = await createTestTenant(api.deps.db);
    const otherAdmin = apiClient(api.url, await other.key(['admin']));
    const changed = await otherAdmin.request('PUT', '/v1/couriers/dhl', {
      body: {
        code: 'dhl',
        name: 'DHL Express',
        trackingUrlTemplate: 'https://dhl.example/t/{tracking}',
        adapter: 'poll',
      },
    });
    expect(changed.status, changed.text).toBe(200);
    expect(
      (await otherAdmin.get('/v1/couriers')).body.couriers.find((c: { code: string }) => c.code === 'dhl')
        .name,
    ).toBe('DHL Express');
    expect(
      (await viewer.get('/v1/couriers')).body.couriers.find((c: { code: string }) => c.code === 'dhl').name,
    ).toBe('DHL');
    const noTracking = await otherAdmin.request('PUT', '/v1/couriers/fastco', {
      body: {
        code: 'fastco',
        name: 'FastCo',
        trackingUrlTemplate: 'https://fast.example/t',
        adapter: 'poll',
      },
    });
    expect(noTracking.status).toBe(400);
    expect(noTracking.body.errors[0].field).toBe('body.trackingUrlTemplate');
  });
});
