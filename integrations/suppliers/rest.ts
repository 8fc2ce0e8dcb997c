import { z } from 'zod';
import { type PlaceOrderRequest, type RemoteOrder, RemoteOrder as RemoteOrderSchema } from './protocol.js';

/** A supplier API that answered, but not with what was asked; `retryable` says whether asking again can help. */
export class SupplierApiError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface SupplierConnection {
  baseUrl: string;
  credentials?: string | null;
  timeoutMs?: number;
}

/** Client of a supplier's `rest` API. Every call either returns what the protocol promises or throws SupplierApiError. */
export function supplierApi({ baseUrl, credentials, timeoutMs = 10_000 }: SupplierConnection) {
  async function call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    options: { body?: unknown; idempotencyKey?: string } = {},
  ) {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (credentials) headers.authorization = `Bearer ${credentials}`;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(
        new URL(path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`),
        {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          signal: AbortSignal.timeout(timeoutMs),
        },
      );
    } catch (error) {
      throw new SupplierApiError(
        `${method} ${path}: ${error instanceof Error ? error.message : String(error)}`,
        true,
      );
    }
    const text = await response.text();
    if (!response.ok) {
      // Throttling, timeouts, conflicts in flight and server errors pass; other refusals will not change by asking again.
      const retryable = response.status >= 500 || [408, 409, 425, 429].includes(response.status);
      throw new SupplierApiError(
        `${method} ${path}: ${response.status} ${text.slice(0, 300)}`,
        retryable,
        response.status,
      );
    }
    const parsed = schema.safeParse(text ? JSON.parse(text) : undefined);
    if (!parsed.success) {
      throw new SupplierApiError(
        `${method} ${path}: unexpected answer: ${z.prettifyError(parsed.error)}`,
        true,
        response.status,
      );
    }
    return parsed.data;
  }

  return {
    placeOrder: (order: PlaceOrderRequest, idempotencyKey: string): Promise<RemoteOrder> =>
      call('POST', '/orders', RemoteOrderSchema, { body: order, idempotencyKey }),
    getOrder: (id: string): Promise<RemoteOrder> =>
      call('GET', `/orders/${encodeURIComponent(id)}`, RemoteOrderSchema),
    cancelOrder: (id: string, idempotencyKey: string): Promise<RemoteOrder> =>
      call('POST', `/orders/${encodeURIComponent(id)}/cancel`, RemoteOrderSchema, {
        body: {},
        idempotencyKey,
      }),
  };
}
export type SupplierApi = ReturnType<typeof supplierApi>;
