import { msToNumber } from '@temporalio/common';
import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CheckoutSession, InvoiceActivities, IssuedInvoice } from '../activities/invoices.js';
import {
  checkoutExpired,
  type InvoicePaymentInput,
  invoicePaymentFlow,
  type PaidInvoice,
  paymentReceived,
} from '../domain/invoice.js';
import { Flow, type Retry, resendDecision } from './kernel/index.js';
import { outsideStepActivityOptions, stepActivityOptions } from './kernel/retry.js';

/**
 * Invoice to payment: issue the invoice with the next number, open a Stripe Checkout Session for the balance,
 * email it, then wait for payments (Stripe or bank transfer, recorded before they reach the flow). A partial
 * payment gets a new link for the rest. At the due date the invoice is overdue; the dunning letters follow, and
 * after the last one an operator decides. Cancelling credits the invoice and closes the open payment link.
 */
export async function invoicePayment(input: InvoicePaymentInput): Promise<PaidInvoice> {
  const flow = new Flow(invoicePaymentFlow, {
    businessKey: input.invoiceKey,
    tenantId: input.tenantId,
    retry: input.retry,
  });
  const invoices = proxyActivities<InvoiceActivities>(stepActivityOptions(input.retry));
  const credits = proxyActivities<InvoiceActivities>(outsideStepActivityOptions(input.retry));
  const flowId = workflowInfo().workflowId;
  const { tenantId, customer, title } = input;

  const payments = new Map<string, number>();
  setHandler(paymentReceived, (payment) => {
    if (!payments.has(payment.paymentId)) payments.set(payment.paymentId, payment.amount);
  });
  const paid = () => [...payments.values()].reduce((sum, amount) => sum + amount, 0);
  const expiredSessions = new Set<string>();
  setHandler(checkoutExpired, ({ sessionId }) => {
    expiredSessions.add(sessionId);
  });

  let invoice: IssuedInvoice | undefined;
  let checkout: CheckoutSession | undefined;
  flow.onCancel('creditInvoice', async () => {
    if (!invoice || paid() >= invoice.total) return;
    const issued = invoice;
    await credits.cancelInvoice({
      tenantId,
      customer,
      title,
      flowId,
      invoice: issued,
      reason: 'flow cancelled',
    });
    if (checkout) {
      await credits.expireCheckoutSession({
        tenantId,
        flowId,
        invoiceNumber: issued.number,
        sessionId: checkout.sessionId,
      });
    }
  });

  /**
   * Work done while the payment is awaited; when it keeps failing, an operator retries it, or, with `manual`,
   * says it is done (a balance request the customer did get).
   */
  const whilePaying = <T>(run: (retry?: Retry<typeof invoicePaymentFlow>) => Promise<T>, manual?: () => T) =>
    flow.within('awaitPayment', run, { manual });

  return flow.run(async () => {
    const issued = await flow.step('issueInvoice', () =>
      invoices.issueInvoice({ ...input, flowId, dueInMs: msToNumber(input.payment.dueIn) }),
    );
    invoice = issued;
    const ref = { tenantId, customer, title, flowId, invoice: issued };
    let attempt = 1;
    let link = await flow.step('createCheckoutSession', () =>
      invoices.createCheckoutSession({ ...ref, attempt, amount: issued.total }),
    );
    checkout = link;
    await flow.step(
      'sendInvoice',
      (retry) => invoices.sendInvoice({ ...ref, resendDecision: resendDecision(retry) }),
      {
        manual: () => undefined,
      },
    );

    const dueAt = Date.parse(issued.dueAt);
    const reminderTimes = [dueAt, ...input.payment.dunning.map((after) => dueAt + msToNumber(after))];
    const open = () => issued.total - paid();
    // Payments may arrive at any moment, even before the wait starts: whenever the open balance differs from
    // what the current link charges, the customer gets a link for the balance. A link Stripe let expire is
    // replaced quietly; the next letter carries the new one.
    for (;;) {
      if (open() <= 0) break;
      if (open() === link.amount && expiredSessions.has(link.sessionId)) {
        attempt++;
        link = await whilePaying(() => invoices.createCheckoutSession({ ...ref, attempt, amount: open() }));
        checkout = link;
      }
      if (open() !== link.amount) {
        attempt++;
        const paidSoFar = paid();
        link = await whilePaying(() => invoices.createCheckoutSession({ ...ref, attempt, amount: open() }));
        checkout = link;
        await whilePaying(
          (retry) =>
            invoices.sendBalanceRequest({
              ...ref,
              attempt,
              paid: paidSoFar,
              resendDecision: resendDecision(retry),
            }),
          () => undefined,
        );
      }
      const { amount: charged, sessionId } = link;
      await flow.waitFor('awaitPayment', () => open() !== charged || expiredSessions.has(sessionId), {
        remindAt: reminderTimes,
        remind: (reminder) => invoices.sendPaymentReminder({ ...ref, reminder, paid: paid() }),
        // A little after the last dunning letter, a person takes over.
        deadline: { at: (reminderTimes.at(-1) ?? dueAt) + 1_000 },
        onDeadline: ['extend'],
      });
    }
    await flow.step(
      'sendReceipt',
      (retry) => invoices.sendReceipt({ ...ref, paid: paid(), resendDecision: resendDecision(retry) }),
      { manual: () => undefined },
    );
    return {
      invoiceId: issued.invoiceId,
      number: issued.number,
      total: issued.total,
      paid: paid(),
      overpaid: Math.max(0, paid() - issued.total),
    };
  });
}
