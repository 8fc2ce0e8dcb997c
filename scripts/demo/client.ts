import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Stripe from 'stripe';
import { configOrExit } from '../../runtime/config.js';

/** What the demos share: the running stack's address, its demo secrets, timed output and API calls. */
export const config = configOrExit();
export const api = `http://${config.api.host}:${config.api.port}`;
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s`;
export const say = (line: string) => process.stdout.write(`${elapsed()}  ${line}\n`);

export async function secret(file: string): Promise<string> {
  try {
    return (await readFile(path.join(config.dataDir, file), 'utf8')).trim();
  } catch {
    throw new Error(
      `${path.join(config.dataDir, file)} is missing: is \`npm start\` running with this DATA_DIR?`,
    );
  }
}

export async function call<T>(method: string, route: string, key: string, body?: unknown): Promise<T> {
  const response = await fetch(`${api}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/**
 * The newest outbox email to `to` containing `pattern`, as the customer would click it; the demos run without SMTP,
 * so emails are files. `after`: links already used, not to be taken again.
 */
export async function linkFromOutbox(to: string, pattern: RegExp, after: string[] = []): Promise<string> {
  for (let tries = 0; tries < 200; tries++) {
    const dir = config.email.outboxDir;
    const names = await readdir(dir).catch(() => [] as string[]);
    const dated = await Promise.all(
      names.map(async (name) => ({ name, at: (await stat(path.join(dir, name))).mtimeMs })),
    );
    for (const { name: file } of dated.sort((a, b) => b.at - a.at)) {
      const text = (await readFile(path.join(dir, file), 'utf8')).replace(/=\r?\n/g, '');
      const link = pattern.exec(text)?.[0]?.replace(/=3D/g, '=');
      if (text.includes(to) && link && !after.includes(link)) return link;
    }
    await sleep(150);
  }
  throw new Error(`no email to ${to} in ${config.email.outboxDir}`);
}

/** Signs on the signing page as the customer does: reads the document's fingerprint, ticks, types a name. */
export async function signAsCustomer(link: string, signerName: string): Promise<string> {
  const page = await (await fetch(link)).text();
  const documentSha256 = /name="documentSha256" value="([0-9a-f]{64})"/.exec(page)?.[1] ?? '';
  const response = await fetch(link, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ decision: 'sign', signerName, agree: 'yes', documentSha256 }).toString(),
  });
  return `customer signed on the signing page (document ${documentSha256.slice(0, 12)}…): ${response.status}`;
}

/** Stripe's word that an invoice was paid in full: a Checkout event signed with the webhook secret. */
export async function payByStripe(
  invoice: {
    tenantId: string;
    invoiceId: string;
    flowId: string;
    total: number;
    key: string;
    /** For an order: the order, and the Checkout Session Flowdesk opened for it. */
    order?: { orderId: string; sessionId: string };
  },
  webhookSecret: string,
): Promise<number> {
  const payload = JSON.stringify({
    id: `evt_${invoice.key}`,
    object: 'event',
    type: 'checkout.session.completed',
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: invoice.order?.sessionId ?? `cs_${invoice.key}`,
        object: 'checkout.session',
        amount_total: invoice.total,
        currency: 'eur',
        payment_status: 'paid',
        payment_intent: `pi_${invoice.key}`,
        metadata: {
          tenantId: invoice.tenantId,
          invoiceId: invoice.invoiceId,
          flowId: invoice.flowId,
          ...(invoice.order ? { orderId: invoice.order.orderId } : {}),
        },
      },
    },
  });
  const signature = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({
    payload,
    secret: webhookSecret,
  });
  const response = await fetch(`${api}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signature },
    body: payload,
  });
  return response.status;
}

/** The issued invoice of an invoice flow, from its audit trail. */
export async function issuedInvoice(
  key: string,
  invoiceFlowId: string,
): Promise<{ invoiceId: string; total: number; number: string }> {
  const events = await call<{
    events: { type: string; payload: { invoiceId?: string; total?: number; number?: string } }[];
  }>('GET', `/v1/flows/${encodeURIComponent(invoiceFlowId)}/events`, key);
  const issued = events.events.find((event) => event.type === 'invoice.issued');
  if (!issued?.payload.invoiceId) throw new Error(`no invoice.issued event on ${invoiceFlowId}`);
  return {
    invoiceId: issued.payload.invoiceId,
    total: issued.payload.total ?? 0,
    number: issued.payload.number ?? '',
  };
}

export function runDemo(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
