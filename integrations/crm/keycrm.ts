import type { DictionaryGroup, DictionaryStatus } from '../../db/analytics/dictionaries.js';
import type { AnalyticsOrderItem } from '../../db/schema.js';
import type { AddressPolicy } from '../outbound/address.js';
import { exchange } from '../outbound/exchange.js';

/**
 * KeyCRM's OpenAPI (https://openapi.keycrm.app/v1), as far as analytics uses it (README, "Status analytics"):
 * `GET /order/status` lists the order statuses (paged: `data`, `next_page_url`), each with its `group_id`;
 * `GET /order/{id}?include=products.offer` reads an order with its products and their offers. Every call carries
 * `Authorization: Bearer {token}`; KeyCRM allows 60 requests a minute per token and answers 429 beyond it.
 */

/**
 * KeyCRM's order status groups are a fixed set; statuses are the CRM's own and name their group by id.
 * The names are KeyCRM's English ones.
 */
export const KEYCRM_GROUPS: readonly DictionaryGroup[] = [
  { groupId: '1', name: 'New', position: 1 },
  { groupId: '2', name: 'Approval', position: 2 },
  { groupId: '3', name: 'Production', position: 3 },
  { groupId: '4', name: 'Delivery', position: 4 },
  { groupId: '5', name: 'Completed', position: 5 },
  { groupId: '6', name: 'Cancelled', position: 6 },
];

/** Why a call failed, and whether trying again later can help. */
export class CrmCallFailed extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'CrmCallFailed';
  }
}

interface KeyCrmStatus {
  id: number | string;
  name: string;
  alias?: string | null;
  is_active?: boolean;
  group_id: number | string;
}

interface KeyCrmProduct {
  sku?: string | null;
  name?: string | null;
  quantity?: number | null;
  offer?: { id?: number | string | null; product_id?: number | string | null; sku?: string | null } | null;
}

const idText = (value: number | string | null | undefined) =>
  value === null || value === undefined || value === '' ? null : String(value);

export function keyCrmApi(options: {
  baseUrl: string;
  token: string;
  policy: AddressPolicy;
  timeoutMs?: number;
}) {
  const base = options.baseUrl.replace(/\/+$/, '');
  async function get<T>(url: string): Promise<T> {
    let response: Awaited<ReturnType<typeof exchange>>;
    try {
      response = await exchange(new URL(url), {
        method: 'GET',
        headers: { authorization: `Bearer ${options.token}`, accept: 'application/json' },
        timeoutMs: options.timeoutMs ?? 10_000,
        policy: options.policy,
      });
    } catch (error) {
      const { code } = error as NodeJS.ErrnoException;
      // An address the policy refuses will not become allowed by asking again.
      throw new CrmCallFailed(
        `KeyCRM could not be reached: ${(error as Error).message}`,
        code !== 'ADDRESS_REFUSED',
      );
    }
    const path = new URL(url).pathname;
    if (response.status >= 200 && response.status < 300) {
      try {
        return JSON.parse(response.text) as T;
      } catch {
        throw new CrmCallFailed(`KeyCRM answered GET ${path} with something that is not JSON`, true);
      }
    }
    const retryAfter = Number(response.headers['retry-after']);
    throw new CrmCallFailed(
      `KeyCRM answered ${response.status} to GET ${path}`,
      response.status === 429 || response.status >= 500,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    );
  }

  return {
    /** Every page of `GET /order/status`; `beforeEachPage` waits for the rate limit. */
    async statuses(beforeEachPage: () => Promise<void>): Promise<DictionaryStatus[]> {
      const statuses: DictionaryStatus[] = [];
      let next: string | null = `${base}/order/status?limit=50&page=1`;
      for (let pages = 0; next && pages < 100; pages++) {
        await beforeEachPage();
        const page: { data?: KeyCrmStatus[]; next_page_url?: string | null } = await get(next);
        for (const status of page.data ?? [])
          statuses.push({
            statusId: String(status.id),
            name: status.name,
            alias: status.alias ?? null,
            groupId: String(status.group_id),
            active: status.is_active ?? true,
            position: statuses.length,
          });
        next = page.next_page_url ?? null;
      }
      return statuses;
    },

    /** The items of an order, as urgency rules read them; a missing order is not worth asking again. */
    async orderItems(orderId: string): Promise<AnalyticsOrderItem[]> {
      const order: { products?: KeyCrmProduct[] } = await get(
        `${base}/order/${encodeURIComponent(orderId)}?include=products.offer`,
      );
      return (order.products ?? []).map((product) => ({
        sku: product.offer?.sku ?? product.sku ?? null,
        offerId: idText(product.offer?.id),
        productId: idText(product.offer?.product_id),
        name: product.name ?? null,
        quantity: product.quantity ?? 1,
      }));
    },
  };
}

export type KeyCrmApi = ReturnType<typeof keyCrmApi>;

/** The offset of a time zone at an instant, in milliseconds (east of UTC positive). */
function zoneOffsetMs(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const field = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((part) => part.type === type)?.value);
  const wall = Date.UTC(
    field('year'),
    field('month') - 1,
    field('day'),
    field('hour'),
    field('minute'),
    field('second'),
  );
  return wall - (instant.getTime() - instant.getUTCMilliseconds());
}

/**
 * A CRM's time: with an offset, as given; without one (KeyCRM's `2026-03-29 09:15:00`), the wall-clock time in the
 * source's time zone. A wall-clock time a DST change skipped reads as the same time after the change.
 */
export function crmInstant(text: string, timeZone: string): Date {
  const iso = text.replace(' ', 'T');
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(iso)) return new Date(iso);
  const asUtc = new Date(`${iso}Z`).getTime();
  const first = asUtc - zoneOffsetMs(new Date(asUtc), timeZone);
  return new Date(asUtc - zoneOffsetMs(new Date(first), timeZone));
}
