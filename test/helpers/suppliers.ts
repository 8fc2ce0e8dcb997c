import type { Db } from '../../db/client.js';
import { signWebhook } from '../../integrations/suppliers/protocol.js';
import {
  type SimulatorOptions,
  type SupplierSimulator,
  startSupplierSimulator,
} from '../../scripts/simulators/supplier.js';

export const SUPPLIER_CREDENTIALS = 'sim-test-credentials';
export const SUPPLIER_WEBHOOK_SECRET = 'sim-test-webhook-secret-0123456789';

/** The supplier simulator with the test credentials and secret; stopped by `stopAll`. */
export function supplierSimulators() {
  const running: SupplierSimulator[] = [];
  return {
    async start(options: Partial<SimulatorOptions> = {}): Promise<SupplierSimulator> {
      const simulator = await startSupplierSimulator({
        credentials: SUPPLIER_CREDENTIALS,
        webhookSecret: SUPPLIER_WEBHOOK_SECRET,
        ...options,
      });
      running.push(simulator);
      return simulator;
    },
    async stopAll() {
      await Promise.all(running.splice(0).map((simulator) => simulator.stop()));
    },
  };
}

/** Posts a supplier webhook as the supplier would, signed (or, with `signature`, forged). */
export function postSupplierWebhook(apiUrl: string, supplierId: string, event: unknown, signature?: string) {
  const body = JSON.stringify(event);
  return fetch(`${apiUrl}/webhooks/suppliers/${supplierId}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'supplier-signature': signature ?? signWebhook(SUPPLIER_WEBHOOK_SECRET, body),
    },
    body,
  });
}

/** A supplier row that takes webhooks signed with `secret`, written directly: for tests that only need one to exist. */
export async function insertWebhookSupplier(
  db: Db,
  tenantId: string,
  code: string,
  secret: string,
): Promise<string> {
  const supplier = await db
    .insertInto('suppliers')
    .values({
      tenant_id: tenantId,
      code,
      name: `Supplier ${code}`,
      protocol: 'manual',
      webhook_secret: secret,
      order_email: `orders+${code.toLowerCase()}@supplier.example`,
      capabilities: JSON.stringify({ webhooks: true, polling: false, cancellation: false }),
      poll_every: '1 hour',
      lead_time: '1 day',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return supplier.id;
}
