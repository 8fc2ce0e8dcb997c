import { sql } from 'kysely';
import { saveDictionary } from '../../db/analytics/dictionaries.js';
import { crmAccess } from '../../db/analytics/sources.js';
import { notify } from '../../db/analytics/statusLog.js';
import type { Db } from '../../db/client.js';
import { every } from '../../runtime/every.js';
import type { Logger } from '../../runtime/logger.js';
import type { SecretBox } from '../../runtime/secretBox.js';
import type { AddressPolicy } from '../outbound/address.js';
import { CrmCallFailed, KEYCRM_GROUPS, keyCrmApi } from './keycrm.js';
import type { CrmThrottle } from './throttle.js';

/**
 * What the worker fetches from outside CRMs, in the background and within each token's rate limit: the status
 * dictionary of each active source (when it was never fetched, when a delivery named a status it lacks, and
 * every `refreshEveryMs`), and the items of each order that has none yet (urgency rules read them). A failed
 * fetch is tried again later, backing off; an order the CRM does not have, or ten failures, end in `failed`.
 * Each order is claimed with `for update skip locked`, so several workers share the work without doing it twice.
 */

const MAX_ATTEMPTS = 10;

export function createCrmSync(options: {
  db: Db;
  secrets: SecretBox;
  logger: Logger;
  throttle: CrmThrottle;
  /** Which addresses a CRM's API may be at (integrations/outbound/address.ts). */
  policy: AddressPolicy;
  refreshEveryMs: number;
  batch?: number;
  /** The wait after a first failure; it doubles with each next one, up to an hour. */
  backoffBaseMs?: number;
}) {
  const { db, secrets, logger, throttle } = options;
  const backoffMs = (attempts: number) =>
    Math.min(3_600_000, (options.backoffBaseMs ?? 5_000) * 2 ** (attempts - 1));

  async function apiOf(sourceId: string) {
    const access = await crmAccess(db, secrets, sourceId);
    return access && { tenantId: access.tenantId, api: keyCrmApi({ ...access, policy: options.policy }) };
  }

  /** Fetches a source's statuses now; the count saved. */
  async function refreshStatuses(sourceId: string): Promise<number> {
    const source = await apiOf(sourceId);
    if (!source) throw new Error(`no CRM source ${sourceId} with an API URL and token`);
    const statuses = await source.api.statuses(() => throttle.take(sourceId));
    await saveDictionary(db, {
      tenantId: source.tenantId,
      sourceId,
      groups: KEYCRM_GROUPS,
      statuses,
      complete: true,
    });
    return statuses.length;
  }

  async function refreshDueDictionaries(): Promise<number> {
    const due = await db
      .selectFrom('status_sources')
      .select('id')
      .where('kind', '=', 'keycrm')
      .where('active', '=', true)
      .where((eb) =>
        eb.or([
          eb('statuses_refreshed_at', 'is', null),
          eb(
            'statuses_refreshed_at',
            '<',
            sql<Date>`now() - ${`${options.refreshEveryMs} milliseconds`}::interval`,
          ),
        ]),
      )
      .execute();
    for (const { id } of due) {
      try {
        const count = await refreshStatuses(id);
        logger.info({ sourceId: id, statuses: count }, 'CRM statuses refreshed');
      } catch (error) {
        logger.warn({ err: error, sourceId: id }, 'CRM statuses could not be refreshed; trying again later');
      }
    }
    return due.length;
  }

  /** Claims due orders (leased for a minute) and fetches their items; the count fetched. */
  async function fetchDueItems(): Promise<number> {
    const claimed = await sql<{
      id: string;
      tenant_id: string;
      source_id: string;
      order_id: string;
      items_attempts: number;
    }>`
      update analytics_orders o set items_next_at = now() + interval '1 minute'
      from (
        select a.id from analytics_orders a
        join status_sources s on s.id = a.source_id and s.kind = 'keycrm' and s.active
        where a.items_state = 'pending' and a.items_next_at <= now()
        order by a.items_next_at
        limit ${options.batch ?? 20}
        for update of a skip locked
      ) due
      where o.id = due.id
      returning o.id, o.tenant_id, o.source_id, o.order_id, o.items_attempts`.execute(db);
    let fetched = 0;
    for (const order of claimed.rows) {
      const source = await apiOf(order.source_id);
      if (!source) continue;
      try {
        await throttle.take(order.source_id);
        const items = await source.api.orderItems(order.order_id);
        await db.transaction().execute(async (trx) => {
          await trx
            .updateTable('analytics_orders')
            .set({
              items: JSON.stringify(items),
              items_state: 'fetched',
              items_attempts: order.items_attempts + 1,
              items_error: null,
              updated_at: sql`now()`,
            })
            .where('id', '=', order.id)
            .execute();
          await notify(trx, {
            kind: 'order_updated',
            tenantId: order.tenant_id,
            sourceId: order.source_id,
            orderId: order.id,
            externalOrderId: order.order_id,
            statusId: null,
          });
        });
        fetched++;
      } catch (error) {
        const attempts = order.items_attempts + 1;
        const failed = !(error instanceof CrmCallFailed && error.retryable) || attempts >= MAX_ATTEMPTS;
        const waitMs = Math.max(
          backoffMs(attempts),
          error instanceof CrmCallFailed ? (error.retryAfterMs ?? 0) : 0,
        );
        await db
          .updateTable('analytics_orders')
          .set({
            items_state: failed ? 'failed' : 'pending',
            items_attempts: attempts,
            items_error: (error as Error).message.slice(0, 500),
            items_next_at: sql`now() + ${`${waitMs} milliseconds`}::interval`,
          })
          .where('id', '=', order.id)
          .execute();
        logger.warn(
          { err: error, sourceId: order.source_id, order: order.order_id, attempts, failed },
          failed
            ? 'CRM order items could not be fetched; giving up'
            : 'CRM order items not fetched; trying again',
        );
      }
    }
    return fetched;
  }

  async function syncOnce(): Promise<{ dictionaries: number; items: number }> {
    const dictionaries = await refreshDueDictionaries();
    let items = 0;
    for (;;) {
      const fetched = await fetchDueItems();
      items += fetched;
      if (fetched === 0) break;
    }
    return { dictionaries, items };
  }

  return {
    refreshStatuses,
    syncOnce,
    start: (everyMs: number) =>
      every(everyMs, syncOnce, (error) => logger.warn({ err: error }, 'CRM sync pass failed')),
  };
}
