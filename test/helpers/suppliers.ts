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
