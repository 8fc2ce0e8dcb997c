import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDb, type Db } from '../db/client.js';
import { sealStoredSupplierSecrets } from '../db/supplierSecrets.js';
import { ensureTenant } from '../db/tenants.js';
import { newPayloadKey, type PayloadKey, parsePayloadKeys } from '../runtime/payloadCodec.js';
import { createSecretBox } from '../runtime/secretBox.js';

const keys = (setting: string) => parsePayloadKeys(setting) as PayloadKey[];

describe('secrets at rest', () => {
  let db: Db;
  beforeAll(() => {
    db = createDb(inject('databaseUrl'), 2);
  });
  afterAll(() => db?.destroy());

  it('are sealed under the payload keys, named by key, and open after a rotation', () => {
    const old = newPayloadKey('old');
    const box = createSecretBox(keys(old));
    const sealed = box.seal('supplier-api-token');
    expect(sealed).toMatch(/^sealed:v1:old:/);
    expect(sealed).not.toContain('supplier-api-token');
    expect(box.seal('supplier-api-token')).not.toBe(sealed);
    const rotated = createSecretBox(keys(`${newPayloadKey('new')},${old}`));
    expect(rotated.open(sealed)).toBe('supplier-api-token');
    expect(rotated.seal('x')).toMatch(/^sealed:v1:new:/);
    expect(() => createSecretBox(keys(newPayloadKey('new'))).open(sealed)).toThrow('no payload key "old"');
    // A stored value changed in the database does not open.
    const at = sealed.length - 20;
    const changed = `${sealed.slice(0, at)}${sealed[at] === 'A' ? 'B' : 'A'}${sealed.slice(at + 1)}`;
    expect(() => box.open(changed)).toThrow();
  });

  it('stored in the clear by an earlier version are sealed once by the API’s upkeep', async () => {
    const box = createSecretBox(keys(newPayloadKey('k1')));
    const tenant = await ensureTenant(db, `sealing-${Date.now()}`, 'Sealing');
    const row = await db
      .insertInto('suppliers')
      .values({
        tenant_id: tenant.id,
        code: 'PLAIN',
        name: 'Plain',
        protocol: 'rest',
        base_url: 'https://supplier.example',
        credentials: 'plain-credentials',
        webhook_secret: 'plain-webhook-secret',
        order_email: 'orders@supplier.example',
        capabilities: JSON.stringify({ webhooks: true, polling: false, cancellation: false }),
        poll_every: '1 hour',
        lead_time: '1 day',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const stored = () =>
      db
        .selectFrom('suppliers')
        .select(['credentials', 'webhook_secret'])
        .where('id', '=', row.id)
        .executeTakeFirstOrThrow();
    await sealStoredSupplierSecrets(db, box);
    const once = await stored();
    expect(once.credentials).toMatch(/^sealed:v1:k1:/);
    expect(box.open(once.credentials ?? '')).toBe('plain-credentials');
    expect(box.open(once.webhook_secret ?? '')).toBe('plain-webhook-secret');
    await sealStoredSupplierSecrets(db, box);
    expect(await stored()).toEqual(once);
  });
});
