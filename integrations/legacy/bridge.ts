import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import type { z } from 'zod';
import { AssetAssignment, CompanyMirror, Device, type RegisterDeviceRequest } from './protocol.js';

/** A call the legacy system did not complete: whether asking again may help, and its HTTP status if it answered. */
export class LegacyError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The circuit is open: the legacy system is left alone until `retryInMs` has passed. */
export class LegacyCircuitOpen extends Error {
  constructor(readonly retryInMs: number) {
    super(`the legacy system is resting (circuit open) for ${Math.ceil(retryInMs / 1000)} s`);
  }
}

export interface LegacyBridgeOptions {
  baseUrl: string;
  token?: string;
  timeoutMs?: number;
  /** Consecutive failures that open the circuit, and how long it stays open before one call may try. */
  breakAfter?: number;
  halfOpenAfterMs?: number;
}

/**
 * The bridge to the legacy system: register a device, assign it to an asset (or take it off one), update the
 * company's mirror. A circuit breaker (cockatiel) guards it for the whole process: after `breakAfter` failures in
 * a row no call is made for `halfOpenAfterMs`, and callers are told to wait instead of failing.
 */
export function legacyBridge(options: LegacyBridgeOptions) {
  const halfOpenAfter = options.halfOpenAfterMs ?? 30_000;
  const breaker: CircuitBreakerPolicy = circuitBreaker(
    handleWhen((error) => !(error instanceof LegacyError) || error.retryable),
    { halfOpenAfter, breaker: new ConsecutiveBreaker(options.breakAfter ?? 5) },
  );
  let openedAt = 0;
  breaker.onBreak(() => {
    openedAt = Date.now();
  });

  async function call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    headers: { correlationId: string; idempotencyKey?: string },
    body?: unknown,
  ): Promise<T> {
    try {
      return await breaker.execute(async () => {
        let response: Response;
        try {
          response = await fetch(new URL(path.replace(/^\//, ''), `${options.baseUrl.replace(/\/$/, '')}/`), {
            method,
            headers: {
              accept: 'application/json',
              'x-correlation-id': headers.correlationId,
              ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
              ...(headers.idempotencyKey ? { 'idempotency-key': headers.idempotencyKey } : {}),
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
          });
        } catch (error) {
          const reason = error instanceof Error && error.name === 'TimeoutError' ? 'timed out' : 'no answer';
          throw new LegacyError(`${method} ${path}: ${reason}`, true);
        }
        if (!response.ok) {
          const retryable = response.status >= 500 || [408, 425, 429].includes(response.status);
          throw new LegacyError(`${method} ${path}: HTTP ${response.status}`, retryable, response.status);
        }
        const parsed = schema.safeParse(await response.json().catch(() => undefined));
        if (!parsed.success) throw new LegacyError(`${method} ${path}: not the protocol's answer`, true);
        return parsed.data;
      });
    } catch (error) {
      if (error instanceof BrokenCircuitError)
        throw new LegacyCircuitOpen(Math.max(0, openedAt + halfOpenAfter - Date.now()));
      throw error;
    }
  }

  return {
    /** Where the circuit stands: closed (calls go), open (resting), half-open (one call tries). */
    circuit: (): 'closed' | 'open' | 'half_open' =>
      breaker.state === CircuitState.Open || breaker.state === CircuitState.Isolated
        ? 'open'
        : breaker.state === CircuitState.HalfOpen
          ? 'half_open'
          : 'closed',
    registerDevice: (
      device: RegisterDeviceRequest,
      headers: { correlationId: string; idempotencyKey: string },
    ) => call('POST', '/devices', Device, headers, device),
    assignToAsset: (assetId: string, deviceId: string, headers: { correlationId: string }) =>
      call(
        'PUT',
        `/assets/${encodeURIComponent(assetId)}/devices/${encodeURIComponent(deviceId)}`,
        AssetAssignment,
        headers,
        {},
      ),
    removeFromAsset: (assetId: string, deviceId: string, headers: { correlationId: string }) =>
      call(
        'DELETE',
        `/assets/${encodeURIComponent(assetId)}/devices/${encodeURIComponent(deviceId)}`,
        AssetAssignment,
        headers,
      ),
    updateMirror: (companyId: string, headers: { correlationId: string }) =>
      call('POST', `/companies/${encodeURIComponent(companyId)}/mirror`, CompanyMirror, headers, {}),
  };
}

export type LegacyBridge = ReturnType<typeof legacyBridge>;
