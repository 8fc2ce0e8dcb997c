import { type Kysely, sql } from 'kysely';
import type { Actor } from '../domain/flow.js';
import { appendEvent } from './events.js';
import type { Database } from './schema.js';

/** The couriers a tenant's shipments go with: seeded for each tenant, edited by its admins. */

export interface CourierView {
  code: string;
  name: string;
  trackingUrlTemplate: string;
  adapter: 'aftership' | 'poll';
}

export async function listCouriers(db: Kysely<Database>, tenantId: string): Promise<CourierView[]> {
  const rows = await db
    .selectFrom('couriers')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('code')
    .execute();
  return rows.map((row) => ({
    code: row.code,
    name: row.name,
    trackingUrlTemplate: row.tracking_url_template,
    adapter: row.adapter as CourierView['adapter'],
  }));
}

/** The tracking page of a shipment with this courier. */
export const trackingUrl = (courier: Pick<CourierView, 'trackingUrlTemplate'>, trackingNumber: string) =>
  courier.trackingUrlTemplate.replaceAll('{tracking}', encodeURIComponent(trackingNumber));

export async function saveCourier(
  db: Kysely<Database>,
  input: CourierView & { tenantId: string; actor: Actor; requestId: string },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const values = {
      name: input.name,
      tracking_url_template: input.trackingUrlTemplate,
      adapter: input.adapter,
    };
    await trx
      .insertInto('couriers')
      .values({ tenant_id: input.tenantId, code: input.code, ...values })
      .onConflict((oc) =>
        oc.columns(['tenant_id', 'code']).doUpdateSet({ ...values, updated_at: sql`now()` }),
      )
      .execute();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'courier.saved',
      actor: input.actor,
      entity: { type: 'courier', id: input.code },
      payload: { ...values },
      idempotencyKey: `courier/${input.tenantId}/${input.code}/${input.requestId}`,
    });
  });
}
