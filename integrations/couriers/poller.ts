import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { CourierNews } from '../../db/shipments.js';
import type { Logger } from '../../runtime/logger.js';
import type { TrackingApi } from './trackingApi.js';

/**
 * Couriers without webhooks (adapter `poll`) are asked: every shipment of theirs that is on its way is looked up
 * at the tracking API (AfterShip's `GET /trackings/{slug}/{tracking_number}`), and its tag goes through the same
 * path as a webhook's. A tag seen before is the same news (`poll:{tag}`), applied once.
 */
export function createCourierPoller(options: {
  db: Kysely<Database>;
  logger: Logger;
  tracking: TrackingApi;
  apply: (news: CourierNews) => Promise<unknown>;
}) {
  const { db, logger } = options;

  async function pollOnce(): Promise<number> {
    const due = await db
      .selectFrom('shipments')
      .innerJoin('couriers', (join) =>
        join
          .onRef('couriers.tenant_id', '=', 'shipments.tenant_id')
          .onRef('couriers.code', '=', 'shipments.courier_code'),
      )
      .select(['shipments.courier_code', 'shipments.tracking_number'])
      .where('couriers.adapter', '=', 'poll')
      .where('shipments.state', 'in', ['ready', 'in_transit'])
      .where('shipments.tracking_number', 'is not', null)
      .execute();
    let applied = 0;
    for (const shipment of due) {
      const slug = shipment.courier_code ?? '';
      const number = shipment.tracking_number ?? '';
      try {
        const tag = await options.tracking.tagOf(slug, number);
        await options.apply({
          courierCode: slug,
          trackingNumber: number,
          eventId: `poll:${number}:${tag}`,
          tag,
          occurredAt: new Date(),
          via: 'poll',
        });
        applied++;
      } catch (error) {
        logger.warn(
          { courier: slug, tracking: number, err: error },
          'courier poll failed; the next round tries again',
        );
      }
    }
    return applied;
  }

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  return {
    pollOnce,
    start(everyMs: number) {
      timer = setInterval(() => {
        running = running
          .then(pollOnce)
          .catch((error: unknown) => logger.error({ err: error }, 'courier poll round failed'));
      }, everyMs);
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
