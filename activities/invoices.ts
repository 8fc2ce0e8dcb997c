import { ApplicationFailure } from '@temporalio/activity';
import type Stripe from 'stripe';
import { appendEvent } from '../db/events.js';
import { nextDocumentNumber } from '../db/invoices.js';
import { invoiceMoney } from '../db/payments.js';
import { SYSTEM } from '../domain/flow.js';
import type { InvoicePaymentInput } from '../domain/invoice.js';
import { formatMoney } from '../domain/money.js';
import { proposalTotal } from '../domain/proposal.js';
import { payUrl } from '../integrations/payments/payLink.js';
import { type EmailDeps, sendEmail } from './email.js';

export interface InvoiceDeps extends EmailDeps {
  stripe?: Stripe;
  publicUrl: string;
  /** Signs the customers' payment links. */
  signingSecret?: string;
  companyName: string;
}

export interface IssuedInvoice {
  invoiceId: string;
  number: string;
  total: number;
  currency: string;
  dueAt: string;
}

export interface InvoiceMoney {
  /** Paid less refunded. */
  paid: number;
  openSessions: { sessionId: string; amount: number }[];
}

export interface CheckoutSession {
  sessionId: string;
  url: string;
  amount: number;
}

type Invoice = Pick<InvoicePaymentInput, 'tenantId' | 'customer' | 'title'> & {
  flowId: string;
  invoice: IssuedInvoice;
};

export function invoiceActivities(deps: InvoiceDeps) {
  const { db } = deps;

  function requireStripe(): Stripe {
    if (!deps.stripe)
      throw ApplicationFailure.nonRetryable(
        'STRIPE_SECRET_KEY is not configured on the worker',
        'ConfigurationError',
      );
    return deps.stripe;
  }

  const money = (amount: number, currency: string) => formatMoney(amount, currency);

  /** The link in every letter: it leads to whichever Checkout Session is open when the customer clicks. */
  function payLink(invoice: IssuedInvoice): string {
    if (!deps.signingSecret)
      throw ApplicationFailure.nonRetryable(
        'SIGNING_SECRET is not configured on the worker',
        'ConfigurationError',
      );
    return payUrl(deps.publicUrl, deps.signingSecret, invoice.invoiceId);
  }

  /** A letter to the invoice's customer (greeting, body, the company's name), sent once per `{flowId}/{key}`. */
  const writeToCustomer = (
    input: Invoice,
    letter: { key: string; template: string; subject: string; body: string[]; resendDecision?: string },
  ) =>
    sendEmail(deps, {
      tenantId: input.tenantId,
      flowId: input.flowId,
      idempotencyKey: `${input.flowId}/${letter.key}`,
      template: letter.template,
      to: input.customer.email,
      subject: letter.subject,
      text: [`Hello ${input.customer.name},`, '', ...letter.body, '', deps.companyName].join('\n'),
      resendDecision: letter.resendDecision,
    });

  /**
   * Expires every open Checkout Session of an invoice (those of attempts before `beforeAttempt`, when given), in
   * Stripe and in the records: before a credit note, before a new link, and once the invoice is paid.
   */
  async function closeCheckoutSessions(input: {
    tenantId: string;
    flowId: string;
    invoiceId: string;
    invoiceNumber: string;
    beforeAttempt?: number;
  }): Promise<void> {
    let open = db
      .selectFrom('checkout_sessions')
      .select('id')
      .where('tenant_id', '=', input.tenantId)
      .where('invoice_id', '=', input.invoiceId)
      .where('status', '=', 'open');
    if (input.beforeAttempt !== undefined) open = open.where('attempt', '<', input.beforeAttempt);
    for (const { id } of await open.execute()) await closeSession(input, id);
  }

  /** Expires one Checkout Session in Stripe (if still open there) and in the records, with its event, once. */
  async function closeSession(
    ref: { tenantId: string; flowId: string; invoiceNumber: string },
    sessionId: string,
  ): Promise<void> {
    const stripe = requireStripe();
    const session = await stripe.checkout.sessions.retrieve(sessionId);
    if (session.status === 'open') await stripe.checkout.sessions.expire(sessionId);
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('checkout_sessions')
        .set({ status: session.status === 'complete' ? 'complete' : 'expired' })
        .where('id', '=', sessionId)
        .where('status', '=', 'open')
        .execute();
      await appendEvent(trx, {
        tenantId: ref.tenantId,
        type: 'invoice.checkout.expired',
        actor: SYSTEM,
        entity: { type: 'invoice', id: ref.invoiceNumber },
        flowId: ref.flowId,
        payload: { sessionId },
        idempotencyKey: `${ref.flowId}/checkout.expired/${sessionId}`,
      });
    });
  }

  return {
    /** Creates the invoice and gives it the next number of the year, once: a retried call returns the same invoice. */
    async issueInvoice(
      input: Pick<InvoicePaymentInput, 'tenantId' | 'invoiceKey' | 'customer' | 'currency' | 'lines'> & {
        flowId: string;
        dueInMs: number;
      },
    ): Promise<IssuedInvoice> {
      return db.transaction().execute(async (trx) => {
        await trx
          .insertInto('invoices')
          .values({
            tenant_id: input.tenantId,
            invoice_key: input.invoiceKey,
            flow_id: input.flowId,
            state: 'DRAFT',
            currency: input.currency,
            total: proposalTotal(input),
            customer_name: input.customer.name,
            customer_email: input.customer.email,
          })
          .onConflict((oc) => oc.columns(['tenant_id', 'invoice_key']).doNothing())
          .execute();
        const invoice = await trx
          .selectFrom('invoices')
          .selectAll()
          .where('tenant_id', '=', input.tenantId)
          .where('invoice_key', '=', input.invoiceKey)
          .forUpdate()
          .executeTakeFirstOrThrow();
        // A key is one invoice: another flow's (or another customer's) is never returned as this one's.
        if (invoice.flow_id !== input.flowId || invoice.customer_email !== input.customer.email)
          throw ApplicationFailure.nonRetryable(
            `invoice key ${input.invoiceKey} belongs to ${invoice.flow_id}, not to ${input.flowId}`,
            'InvoiceKeyTaken',
          );
        if (invoice.number && invoice.due_at) {
          return {
            invoiceId: invoice.id,
            number: invoice.number,
            total: Number(invoice.total),
            currency: invoice.currency,
            dueAt: invoice.due_at.toISOString(),
          };
        }
        const issuedAt = new Date();
        const number = await nextDocumentNumber(trx, input.tenantId, 'INV', issuedAt.getUTCFullYear());
        const dueAt = new Date(issuedAt.getTime() + input.dueInMs);
        await trx
          .updateTable('invoices')
          .set({ number, state: 'ISSUED', issued_at: issuedAt, due_at: dueAt, updated_at: issuedAt })
          .where('id', '=', invoice.id)
          .execute();
        await trx
          .insertInto('invoice_lines')
          .values(
            input.lines.map((line, position) => ({
              invoice_id: invoice.id,
              position,
              description: line.description,
              quantity: line.quantity,
              unit_price: line.unitPrice,
              amount: line.quantity * line.unitPrice,
            })),
          )
          .execute();
        await appendEvent(trx, {
          tenantId: input.tenantId,
          type: 'invoice.issued',
          actor: SYSTEM,
          entity: { type: 'invoice', id: number },
          flowId: input.flowId,
          payload: {
            invoiceId: invoice.id,
            number,
            total: Number(invoice.total),
            currency: invoice.currency,
            dueAt: dueAt.toISOString(),
          },
          idempotencyKey: `${input.flowId}/invoice.issued`,
        });
        return {
          invoiceId: invoice.id,
          number,
          total: Number(invoice.total),
          currency: invoice.currency,
          dueAt: dueAt.toISOString(),
        };
      });
    },

    /**
     * A Stripe Checkout Session for the open balance; the idempotency key makes a retry return the same session.
     * The invoice's other open sessions are expired first: only one link takes money at a time.
     */
    async createCheckoutSession(
      input: Invoice & { attempt: number; amount: number },
    ): Promise<CheckoutSession> {
      const stripe = requireStripe();
      const { invoice } = input;
      await closeCheckoutSessions({
        tenantId: input.tenantId,
        flowId: input.flowId,
        invoiceId: invoice.invoiceId,
        invoiceNumber: invoice.number,
        beforeAttempt: input.attempt,
      });
      const metadata = { tenantId: input.tenantId, invoiceId: invoice.invoiceId, flowId: input.flowId };
      const session = await stripe.checkout.sessions.create(
        {
          mode: 'payment',
          customer_email: input.customer.email,
          client_reference_id: invoice.invoiceId,
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: invoice.currency.toLowerCase(),
                unit_amount: input.amount,
                product_data: { name: `Invoice ${invoice.number}: ${input.title}` },
              },
            },
          ],
          metadata,
          // The charge (and its refunds and disputes) carries them too.
          payment_intent_data: { metadata },
          success_url: `${deps.publicUrl}/paid/${encodeURIComponent(invoice.number)}`,
        },
        { idempotencyKey: `${input.flowId}/checkout/${input.attempt}` },
      );
      if (!session.url)
        throw ApplicationFailure.retryable('Stripe returned a checkout session without a URL', 'StripeError');
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('checkout_sessions')
          .values({
            id: session.id,
            tenant_id: input.tenantId,
            invoice_id: invoice.invoiceId,
            attempt: input.attempt,
            amount: input.amount,
            url: session.url ?? '',
            status: 'open',
          })
          .onConflict((oc) => oc.columns(['invoice_id', 'attempt']).doNothing())
          .execute();
        await appendEvent(trx, {
          tenantId: input.tenantId,
          type: 'invoice.checkout.created',
          actor: SYSTEM,
          entity: { type: 'invoice', id: invoice.number },
          flowId: input.flowId,
          payload: { sessionId: session.id, amount: input.amount, attempt: input.attempt },
          idempotencyKey: `${input.flowId}/checkout.created/${input.attempt}`,
        });
      });
      return { sessionId: session.id, url: session.url, amount: input.amount };
    },

    async sendInvoice(input: Invoice & { resendDecision?: string }): Promise<void> {
      const { invoice } = input;
      await writeToCustomer(input, {
        key: `invoice/${invoice.number}`,
        template: 'invoice.issued',
        resendDecision: input.resendDecision,
        subject: `Invoice ${invoice.number} from ${deps.companyName}`,
        body: [
          `here is invoice ${invoice.number} for "${input.title}": ${money(invoice.total, invoice.currency)}, due on ${invoice.dueAt.slice(0, 10)}.`,
          'Pay online here:',
          '',
          payLink(invoice),
        ],
      });
      await db
        .updateTable('invoices')
        .set({ state: 'SENT', updated_at: new Date() })
        .where('id', '=', invoice.invoiceId)
        .where('state', '=', 'ISSUED')
        .execute();
    },

    /** After a partial payment: the open balance and a new payment link. */
    async sendBalanceRequest(
      input: Invoice & { attempt: number; paid: number; resendDecision?: string },
    ): Promise<void> {
      const { invoice } = input;
      await writeToCustomer(input, {
        key: `balance/${input.attempt}`,
        template: 'invoice.balance',
        resendDecision: input.resendDecision,
        subject: `Invoice ${invoice.number}: ${money(invoice.total - input.paid, invoice.currency)} still open`,
        body: [
          `thank you for your payment. ${money(input.paid, invoice.currency)} of ${money(invoice.total, invoice.currency)} is paid; the rest can be paid here:`,
          '',
          payLink(invoice),
        ],
      });
    },

    /** Reminder 1 is the due date itself (the invoice becomes overdue); the later ones are the dunning letters. */
    async sendPaymentReminder(input: Invoice & { reminder: number; paid: number }): Promise<void> {
      const { invoice } = input;
      await db.transaction().execute(async (trx) => {
        if (input.reminder === 1) {
          await trx
            .updateTable('invoices')
            .set({ state: 'OVERDUE', updated_at: new Date() })
            .where('id', '=', invoice.invoiceId)
            .where('state', 'in', ['ISSUED', 'SENT', 'PAID_PARTIAL'])
            .execute();
        }
        await appendEvent(trx, {
          tenantId: input.tenantId,
          type: input.reminder === 1 ? 'invoice.overdue' : 'invoice.dunning.sent',
          actor: SYSTEM,
          entity: { type: 'invoice', id: invoice.number },
          flowId: input.flowId,
          payload: { reminder: input.reminder, open: invoice.total - input.paid },
          idempotencyKey: `${input.flowId}/payment-reminder/${input.reminder}`,
        });
      });
      await writeToCustomer(input, {
        key: `payment-reminder/${input.reminder}`,
        template: input.reminder === 1 ? 'invoice.overdue' : 'invoice.dunning',
        subject: `${input.reminder === 1 ? 'Overdue' : `Reminder ${input.reminder - 1}`}: invoice ${invoice.number}`,
        body: [
          `invoice ${invoice.number} was due on ${invoice.dueAt.slice(0, 10)}; ${money(invoice.total - input.paid, invoice.currency)} is still open.`,
          'Pay online here:',
          '',
          payLink(invoice),
        ],
      });
    },

    async sendReceipt(input: Invoice & { paid: number; resendDecision?: string }): Promise<void> {
      const { invoice } = input;
      await writeToCustomer(input, {
        key: `receipt`,
        template: 'invoice.receipt',
        resendDecision: input.resendDecision,
        subject: `Receipt for invoice ${invoice.number}`,
        body: [
          `we received ${money(input.paid, invoice.currency)} for invoice ${invoice.number}. Thank you.`,
        ],
      });
    },

    /**
     * A numbered invoice is never deleted: it is cancelled by a credit note with a number of its own, and the
     * customer is told, once, with the credit note's number.
     */
    async cancelInvoice(input: Invoice & { reason: string }): Promise<{ creditNote: string }> {
      const { invoice } = input;
      const cancelled = await db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('invoices')
          .selectAll()
          .where('id', '=', invoice.invoiceId)
          .forUpdate()
          .executeTakeFirstOrThrow();
        if (row.credit_note_number)
          return { creditNote: row.credit_note_number, paid: Number(row.paid) - Number(row.refunded) };
        const now = new Date();
        const creditNote = await nextDocumentNumber(trx, input.tenantId, 'CN', now.getUTCFullYear());
        await trx
          .updateTable('invoices')
          .set({ state: 'CANCELLED', cancelled_at: now, credit_note_number: creditNote, updated_at: now })
          .where('id', '=', row.id)
          .execute();
        await appendEvent(trx, {
          tenantId: input.tenantId,
          type: 'invoice.cancelled',
          actor: SYSTEM,
          entity: { type: 'invoice', id: invoice.number },
          flowId: input.flowId,
          payload: { creditNote, amount: Number(row.total), paid: Number(row.paid), reason: input.reason },
          idempotencyKey: `${input.flowId}/invoice.cancelled`,
        });
        return { creditNote, paid: Number(row.paid) - Number(row.refunded) };
      });
      const { creditNote, paid } = cancelled;
      await writeToCustomer(input, {
        key: `invoice-cancelled/${invoice.number}`,
        template: 'invoice.cancelled',
        subject: `Invoice ${invoice.number} is cancelled: credit note ${creditNote}`,
        body: [
          `invoice ${invoice.number} for "${input.title}" (${money(invoice.total, invoice.currency)}) is cancelled by credit note ${creditNote}.`,
          paid > 0
            ? `We will refund the ${money(paid, invoice.currency)} you paid, or contact you about it.`
            : 'Nothing is due: please do not pay it.',
        ],
      });
      return { creditNote };
    },

    closeCheckoutSessions,

    /** The invoice's money and its open payment links, from the records: the flow acts on these, not on signals. */
    async readInvoiceMoney(input: { tenantId: string; invoiceId: string }): Promise<InvoiceMoney> {
      const money = await invoiceMoney(db, input.tenantId, input.invoiceId);
      const open = await db
        .selectFrom('checkout_sessions')
        .select(['id', 'amount'])
        .where('tenant_id', '=', input.tenantId)
        .where('invoice_id', '=', input.invoiceId)
        .where('status', '=', 'open')
        .execute();
      return {
        paid: money.paid - money.refunded,
        openSessions: open.map((session) => ({ sessionId: session.id, amount: Number(session.amount) })),
      };
    },

    /** Closes an open checkout session so the old payment link stops taking money (builds before flowdesk-3). */
    async expireCheckoutSession(input: {
      tenantId: string;
      flowId: string;
      invoiceNumber: string;
      sessionId: string;
    }) {
      await closeSession(input, input.sessionId);
    },
  };
}

export type InvoiceActivities = ReturnType<typeof invoiceActivities>;
