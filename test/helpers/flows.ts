import { setTimeout as sleep } from 'node:timers/promises';
import type { Insertable } from 'kysely';
import Stripe from 'stripe';
import type { Db } from '../../db/client.js';
import type { Database } from '../../db/schema.js';
import type { FlowStatus } from '../../domain/flow.js';
import type { SmtpSink } from './smtp.js';

/**
 * A flows row as the kernel would have published it, for tests of what reads the table: a flow of `flowType`,
 * waiting at step 3 of 4, with `fields` over that.
 */
export function flowRow(
  fields: Pick<Insertable<Database['flows']>, 'id' | 'tenant_id' | 'flow_type'> &
    Partial<Insertable<Database['flows']>>,
): Insertable<Database['flows']> {
  const now = new Date();
  return {
    business_key: fields.id,
    run_id: null,
    state: 'waiting',
    current_step: null,
    progress_done: 2,
    progress_total: 4,
    waiting_for: null,
    attention: JSON.stringify(null),
    title: null,
    version: 1,
    started_at: now,
    updated_at: now,
    ended_at: null,
    ...fields,
  };
}

/** Polls the flows table (what users see) until the row satisfies `predicate`. */
export async function waitForFlowRow(
  db: Db,
  flowId: string,
  predicate: (row: Awaited<ReturnType<typeof selectFlow>>) => boolean,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await selectFlow(db, flowId);
    if (row && predicate(row)) return row;
    if (Date.now() > deadline)
      throw new Error(`flow ${flowId} did not get there; last row: ${JSON.stringify(row)}`);
    await sleep(100);
  }
}

function selectFlow(db: Db, flowId: string) {
  return db.selectFrom('flows').selectAll().where('id', '=', flowId).executeTakeFirst();
}

/** The signing link from the contract email the customer received. */
export async function signingLinkFor(
  smtp: SmtpSink,
  address: string,
  subject = /ready to sign/,
  timeoutMs = 30_000,
): Promise<string> {
  const email = await smtp.waitFor(
    (m) => m.envelope.to.includes(address) && subject.test(m.parsed.subject ?? ''),
    timeoutMs,
  );
  const link = /(http:\/\/\S+\/sign\/\S+)/.exec(email.parsed.text ?? '')?.[1];
  if (!link) throw new Error(`no signing link in: ${email.parsed.text}`);
  return link;
}

/** Posts the signing form as a browser does after showing the page: with the fingerprint of the document shown. */
export async function submitSigningForm(db: Db, link: string, fields: Record<string, string>) {
  const envelopeId = decodeURIComponent(new URL(link).pathname.split('/').at(-1) ?? '');
  const { document_sha256: documentSha256 } = await db
    .selectFrom('signature_envelopes')
    .select('document_sha256')
    .where('id', '=', envelopeId)
    .executeTakeFirstOrThrow();
  return fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ documentSha256, ...fields }).toString(),
  });
}

const signer = new Stripe('sk_test_123');

/** A Checkout event as Stripe sends it, for an invoice Flowdesk created the session for. */
export function checkoutCompletedEvent(
  id: string,
  invoice: { id: string; flow_id: string; tenant_id: string },
  amount: number,
  type = 'checkout.session.completed',
  session: Record<string, unknown> = {},
) {
  return JSON.stringify({
    id,
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: `cs_${id}`,
        object: 'checkout.session',
        amount_total: amount,
        currency: 'eur',
        payment_status: 'paid',
        payment_intent: `pi_${id}`,
        metadata: { tenantId: invoice.tenant_id, invoiceId: invoice.id, flowId: invoice.flow_id },
        ...session,
      },
    },
  });
}

export function postStripeWebhook(apiUrl: string, payload: string, secret: string, signature?: string) {
  return fetch(`${apiUrl}/webhooks/stripe`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signature ?? signer.webhooks.generateTestHeaderString({ payload, secret }),
    },
    body: payload,
  });
}

/**
 * The receipt of a Stripe event once the inbox's relay is done with it: applied and its flows told, or held
 * to be tried again (its last error says why).
 */
export async function stripeEventSettled(db: Db, eventId: string, timeoutMs = 20_000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    const receipt = await db
      .selectFrom('webhook_receipts')
      .select(['processed_at', 'relayed_at', 'attempts', 'last_error', 'effects'])
      .where('source', '=', 'stripe')
      .where('external_id', '=', eventId)
      .executeTakeFirst();
    if (receipt && (receipt.relayed_at || receipt.attempts > 0)) return receipt;
    await sleep(20);
  }
  throw new Error(`the Stripe event ${eventId} was never relayed`);
}

/** Delivers a signed Stripe event and waits for the relay to apply it and tell its flows. */
export async function deliverStripeEvent(
  api: { url: string; deps: { db: Db } },
  payload: string,
  secret: string,
) {
  const response = await postStripeWebhook(api.url, payload, secret);
  if (response.status !== 200)
    throw new Error(`Stripe's webhook answered ${response.status}: ${await response.text()}`);
  return stripeEventSettled(api.deps.db, JSON.parse(payload).id);
}

/** A flow's status as the kernel publishes it, running and with nothing to show, changed by `extra`. */
export function flowStatusOf(flowId: string, tenantId: string, extra: Partial<FlowStatus> = {}): FlowStatus {
  const now = new Date().toISOString();
  return {
    flowId,
    flowType: 'test',
    businessKey: flowId,
    tenantId,
    state: 'running',
    currentStep: null,
    steps: [],
    progress: { done: 0, total: 0 },
    waitingFor: null,
    attention: null,
    paused: false,
    activeChildren: [],
    parentFlowId: null,
    rootFlowId: null,
    startedAt: now,
    updatedAt: now,
    ...extra,
  };
}
