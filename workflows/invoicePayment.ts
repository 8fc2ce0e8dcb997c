import { msToNumber } from '@temporalio/common';
import { proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type {
  CheckoutSession,
  InvoiceActivities,
  InvoiceMoney,
  IssuedInvoice,
} from '../activities/invoices.js';
import {
  checkoutExpired,
  type InvoicePaymentInput,
  invoicePaymentFlow,
  type PaidInvoice,
  paymentReceived,
} from '../domain/invoice.js';
import { Flow, type Retry, resendDecision } from './kernel/index.js';
import { outsideStepActivityOptions, readActivityOptions, stepActivityOptions } from './kernel/retry.js';

/**
 * Invoice to payment: issue the invoice with the next number, open a Stripe Checkout Session for the balance,
 * email it, then wait for payments (Stripe or bank transfer, recorded before the flow hears of them). Signals
 * only say that the invoice's money changed: the flow reads it from the records. A partial payment (or a
 * refund) gets a link for the new balance, and a link Stripe let expire is replaced, while the wait goes on. At
 * the due date the invoice is overdue; the dunning letters follow, and after the last one an operator decides.
 * Once paid, every open link is closed. Cancelling closes them first, then credits the invoice.
 */
export async function invoicePayment(input: InvoicePaymentInput): Promise<PaidInvoice> {
  const flow = new Flow(invoicePaymentFlow, {
    businessKey: input.invoiceKey,
    tenantId: input.tenantId,
    retry: input.retry,
  });
  const invoices = proxyActivities<InvoiceActivities>(stepActivityOptions(input.retry));
  const records = proxyLocalActivities<InvoiceActivities>(readActivityOptions(input.retry));
  const credits = proxyActivities<InvoiceActivities>(outsideStepActivityOptions(input.retry));
  const flowId = workflowInfo().workflowId;
  const { tenantId, customer, title } = input;

  /** News heard (a payment, a refund, an expired session) and news acted on: ids only, never amounts. */
  let heard = 0;
  let acted = 0;
  setHandler(paymentReceived, () => {
    heard++;
  });
  setHandler(checkoutExpired, () => {
    heard++;
  });
  let money: InvoiceMoney = { paid: 0, openSessions: [] };
  const paid = () => money.paid;

  let invoice: IssuedInvoice | undefined;
  flow.onCancel('creditInvoice', async () => {
    if (!invoice) return;
    const issued = invoice;
    const ids = { tenantId, flowId, invoiceId: issued.invoiceId, invoiceNumber: issued.number };
    // No link takes money once the credit note exists; a payment that comes anyway is held for finance.
    await credits.closeCheckoutSessions(ids);
    money = await credits.readInvoiceMoney(ids);
    if (paid() >= issued.total) return;
    await credits.cancelInvoice({
      tenantId,
      customer,
      title,
      flowId,
      invoice: issued,
      reason: 'flow cancelled',
    });
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
    const ids = { tenantId, flowId, invoiceId: issued.invoiceId, invoiceNumber: issued.number };
    let attempt = 1;
    let link: CheckoutSession = await flow.step('createCheckoutSession', () =>
      invoices.createCheckoutSession({ ...ref, attempt, amount: issued.total }),
    );
    await flow.step(
      'sendInvoice',
      (retry) => invoices.sendInvoice({ ...ref, resendDecision: resendDecision(retry) }),
      { manual: () => undefined },
    );

    const open = () => issued.total - paid();
    /** The customer's link charges the open balance, and is open; a balance after a payment is asked for. */
    const keepLinkCurrent = async () => {
      const linkOpen = money.openSessions.some((session) => session.sessionId === link.sessionId);
      if (open() <= 0 || (linkOpen && link.amount === open())) return;
      const balanceChanged = link.amount !== open();
      const paidSoFar = paid();
      attempt++;
      link = await whilePaying(() => invoices.createCheckoutSession({ ...ref, attempt, amount: open() }));
      if (!balanceChanged || paidSoFar <= 0) return;
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
    };

    const dueAt = Date.parse(issued.dueAt);
    const reminderTimes = [dueAt, ...input.payment.dunning.map((after) => dueAt + msToNumber(after))];
    await flow.waitFor('awaitPayment', () => open() <= 0, {
      news: () => heard !== acted,
      reread: async () => {
        acted = heard;
        money = await whilePaying(() => records.readInvoiceMoney(ids));
        await keepLinkCurrent();
      },
      remindAt: reminderTimes,
      remind: (reminder) => invoices.sendPaymentReminder({ ...ref, reminder, paid: paid() }),
      // A little after the last dunning letter, a person takes over.
      deadline: { at: (reminderTimes.at(-1) ?? dueAt) + 1_000 },
      onDeadline: ['extend'],
    });
    await flow.step(
      'sendReceipt',
      async (retry) => {
        await invoices.closeCheckoutSessions(ids);
        await invoices.sendReceipt({ ...ref, paid: paid(), resendDecision: resendDecision(retry) });
      },
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
