import type { z } from 'zod';
import type { AddressPolicy } from '../outbound/address.js';
import { exchange } from '../outbound/exchange.js';
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
  /** Which addresses the worker may connect to (integrations/outbound/address.ts). */
  policy: AddressPolicy;
}

/** What a supplier's refusal is called in errors and events: its status, never its words. */
function classified(status: number): string {
  if (status >= 300 && status < 400) return 'a redirect, not followed';
  if (status === 429) return 'throttled';
  if (status === 408 || status === 425) return 'timed out';
  if (status === 409) return 'a conflict';
  if (status === 401 || status === 403) return 'credentials refused';
  if (status === 404) return 'not found';
  if (status >= 500) return 'a server error';
  return 'refused';
}

/** Client of a supplier's `rest` API. Every call either returns what the protocol promises or throws SupplierApiError. */
export function supplierApi({ baseUrl, credentials, timeoutMs = 10_000, policy }: SupplierConnection) {
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
    let response: { status: number; text: string };
    try {
      response = await exchange(
        new URL(path.replace(/^\//, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`),
        {
          method,
          headers,
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          timeoutMs,
          policy,
        },
      );
    } catch (error) {
      if (error instanceof SupplierApiError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      // An address the policy refuses will not become allowed by asking again.
      if (code === 'ADDRESS_REFUSED')
        throw new SupplierApiError(`${method} ${path}: ${(error as Error).message}`, false);
      throw new SupplierApiError(`${method} ${path}: no answer (${code ?? 'connection failed'})`, true);
    }
    const { status, text } = response;
    if (status < 200 || status >= 300) {
      // Throttling, timeouts, conflicts in flight and server errors pass; other refusals will not change by asking again.
      const retryable = status >= 500 || [408, 409, 425, 429].includes(status);
      throw new SupplierApiError(
        `${method} ${path}: HTTP ${status}, ${classified(status)}`,
        retryable,
        status,
      );
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new SupplierApiError(`${method} ${path}: an answer that is not JSON`, true, status);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      // Which fields were wrong, never what they held.
      const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(the answer)').join(', ');
      throw new SupplierApiError(`${method} ${path}: not the protocol's answer (${fields})`, true, status);
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
