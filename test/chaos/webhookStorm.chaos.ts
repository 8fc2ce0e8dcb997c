import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InvoicePaymentInput, invoiceFlowId } from '../../domain/invoice.js';
import { apiClient, createTestTenant } from '../helpers/api.js';
import { deliverStripeEvent, waitForFlowRow } from '../helpers/flows.js';
import { paidSession } from '../helpers/stripeFixtures.js';
import { driveAll, expectNothingLostOrDoubled, type Rig, shuffle, startRig, WEBHOOK_SECRET } from './rig.js';

const FLOWS = Number(process.env.CHAOS_FLOWS ?? 100);
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('storm');
});
afterAll(() => rig?.stop());

describe('every signing and Stripe webhook delivered three times, shuffled, some late', () => {
  it(`changes the world once across ${FLOWS} flows`, async () => {
    await rig.startWorker();
    const { flowIds, operatorDecisions } = await driveAll(rig, 'S', FLOWS, { deliveries: 3, spacingMs: 100 });
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ deliveriesPerEvent: 3, operatorDecisions, ...counts }));
  });

  it('accounts for every payment: those for cancelled invoices and for superseded links too', async () => {
    const { db, config, temporal } = rig.api.deps;
    const tenant = await createTestTenant(db);
    const staff = apiClient(rig.api.url, await tenant.key(['coordinator', 'finance']));
    const count = 10;
    const invoices = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const invoiceKey = `X-${Date.now().toString(36)}-${i}`;
        const input = {
          tenantId: tenant.tenantId,
          tenantSlug: tenant.slug,
          invoiceKey,
          title: 'Battery storage',
          currency: 'EUR',
          customer: { name: 'Chaos Customer', email: `${invoiceKey.toLowerCase()}@example.com` },
          lines: [{ description: 'Battery', quantity: 1, unitPrice: 480_000 }],
          payment: { dueIn: '1 hour', dunning: ['1 hour'] },
          retry: { maximumAttempts: 20, initialInterval: '200 milliseconds', maximumInterval: '2 seconds' },
        } as InvoicePaymentInput;
        const flowId = invoiceFlowId(tenant.slug, invoiceKey);
        await temporal.workflow.start('invoicePayment', {
          taskQueue: config.temporal.taskQueue,
          workflowId: flowId,
          args: [input],
        });
        await waitForFlowRow(db, flowId, (row) => row?.state === 'waiting', 120_000);
        const invoice = await db
          .selectFrom('invoices')
          .select(['id', 'number'])
          .where('flow_id', '=', flowId)
          .executeTakeFirstOrThrow();
        const first = await db
          .selectFrom('checkout_sessions')
          .select('id')
          .where('invoice_id', '=', invoice.id)
          .where('attempt', '=', 1)
          .executeTakeFirstOrThrow();
        return { flowId, invoice, firstSession: first.id, cancelled: i % 2 === 0 };
      }),
    );
    // Half are cancelled; the others get a bank transfer for part, which replaces their link with one for the rest.
    for (const entry of invoices) {
      if (entry.cancelled) {
        expect((await staff.post(`/v1/flows/${encodeURIComponent(entry.flowId)}/cancel`, {})).status).toBe(
          202,
        );
        await waitForFlowRow(db, entry.flowId, (row) => row?.state === 'cancelled', 120_000);
      } else {
        const part = await staff.post(`/v1/invoices/${entry.invoice.number}/payments`, {
          amount: 100_000,
          currency: 'EUR',
          reference: `PART-${entry.invoice.number}`,
        });
        expect(part.status).toBe(201);
      }
    }
    // Stripe then reports the customers paying their first link anyway: three times each, shuffled, some late.
    const events = invoices.map((entry, i) =>
      paidSession(`evt_late_${entry.invoice.number}`, {
        sessionId: entry.firstSession,
        paymentIntent: `pi_late_${tenant.slug}_${i}`,
        amount: 480_000,
        metadata: { tenantId: tenant.tenantId, invoiceId: entry.invoice.id, flowId: entry.flowId },
      }),
    );
    const storm = shuffle(
      events.flatMap((event) => [event, event, event]),
      rig.random,
    );
    await Promise.all(
      storm.map(async (payload, i) => {
        await sleep(i % 3 === 2 ? 500 + rig.random() * 2_000 : rig.random() * 200);
        await deliverStripeEvent(rig.api, payload, WEBHOOK_SECRET);
      }),
    );
    const payments = await db
      .selectFrom('payments')
      .select(['payment_intent', 'state', 'unapplied_reason', 'source'])
      .where('tenant_id', '=', tenant.tenantId)
      .where('source', '=', 'stripe')
      .execute();
    expect(payments).toHaveLength(count);
    for (const [i, entry] of invoices.entries()) {
      const payment = payments.find((row) => row.payment_intent === `pi_late_${tenant.slug}_${i}`);
      expect(payment, entry.flowId).toMatchObject(
        entry.cancelled
          ? { state: 'unapplied', unapplied_reason: 'invoice_cancelled' }
          : { state: 'applied', unapplied_reason: null },
      );
      if (!entry.cancelled)
        await waitForFlowRow(db, entry.flowId, (row) => row?.state === 'completed', 120_000);
    }
    const overpaid = await db
      .selectFrom('domain_events')
      .select('flow_id')
      .where('tenant_id', '=', tenant.tenantId)
      .where('type', '=', 'invoice.overpaid')
      .execute();
    expect(overpaid).toHaveLength(count / 2);
    const unapplied = await staff.get('/v1/payments?state=unapplied');
    expect(unapplied.body.payments).toHaveLength(count / 2);
    rig.log(JSON.stringify({ laterPayments: count, unapplied: count / 2, overpaid: overpaid.length }));
  });
});
