import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import type { Actor } from '../domain/flow.js';
import type { SupplierSettings } from '../domain/supplier.js';
import { outsideUrlRefusal } from '../integrations/outbound/address.js';
import type { ApiDeps } from './context.js';

/**
 * A tenant's suppliers: registered and changed here only, from the API or the console, each change on record.
 * Credentials and webhook secrets are sealed at rest and write-only: omitted, the stored one stays; null clears it.
 */
export function supplierByCode(db: Db, tenantId: string, code: string) {
  return db
    .selectFrom('suppliers')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('code', '=', code)
    .executeTakeFirst();
}

export function listSuppliers(db: Db, tenantId: string) {
  return db.selectFrom('suppliers').selectAll().where('tenant_id', '=', tenantId).orderBy('code').execute();
}

export async function saveSupplier(
  deps: Pick<ApiDeps, 'db' | 'config' | 'secrets'>,
  who: { tenantId: string; actor: Actor; requestId: string },
  code: string,
  settings: SupplierSettings,
) {
  const { db } = deps;
  const sealed = (secret: string | null) => (secret === null ? null : deps.secrets.seal(secret));
  const values = {
    name: settings.name,
    protocol: settings.protocol,
    base_url: settings.baseUrl ?? null,
    ...(settings.credentials === undefined ? {} : { credentials: sealed(settings.credentials) }),
    ...(settings.webhookSecret === undefined ? {} : { webhook_secret: sealed(settings.webhookSecret) }),
    order_email: settings.orderEmail,
    capabilities: JSON.stringify(settings.capabilities),
    poll_every: settings.pollEvery,
    lead_time: settings.leadTime,
  };
  const existing = await supplierByCode(db, who.tenantId, code);
  const webhookSecret =
    settings.webhookSecret === undefined ? existing?.webhook_secret : settings.webhookSecret;
  if (settings.protocol === 'rest' && settings.capabilities.webhooks && !webhookSecret)
    return {
      field: 'webhookSecret',
      message: 'webhooks are only accepted signed: give the secret they are signed with',
    } as const;
  const urlRefusal =
    settings.baseUrl && (await outsideUrlRefusal(settings.baseUrl, deps.config.supplierUrls));
  if (urlRefusal) return { field: 'baseUrl', message: urlRefusal } as const;
  return db.transaction().execute(async (trx) => {
    const existed = await supplierByCode(trx, who.tenantId, code);
    const saved = await trx
      .insertInto('suppliers')
      .values({ tenant_id: who.tenantId, code, ...values })
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'code']).doUpdateSet({ ...values, updated_at: new Date() }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    await appendEvent(trx, {
      tenantId: who.tenantId,
      type: existed ? 'supplier.updated' : 'supplier.registered',
      actor: who.actor,
      entity: { type: 'supplier', id: code },
      payload: {
        name: settings.name,
        protocol: settings.protocol,
        baseUrl: settings.baseUrl,
        capabilities: settings.capabilities,
      },
      idempotencyKey: `supplier/${saved.id}/${who.requestId}`,
    });
    return { row: saved, created: !existed };
  });
}
