import type { Db } from '../db/client.js';
import { createMailer, type Mailer } from '../integrations/email/mailer.js';
import { legacyBridge } from '../integrations/legacy/bridge.js';
import { createStripe } from '../integrations/payments/stripe.js';
import { type Config, requireSetting } from '../runtime/config.js';
import type { Logger } from '../runtime/logger.js';
import { createSecretBox } from '../runtime/secretBox.js';
import { automationActivities } from './automation.js';
import { contractActivities } from './contracts.js';
import { flowActivities } from './flows.js';
import { invoiceActivities } from './invoices.js';
import { orderActivities } from './orders.js';
import { projectActivities } from './projects.js';
import { proposalActivities } from './proposals.js';
import { supplierOrderActivities } from './supplierOrders.js';

export interface ActivityDeps {
  config: Config;
  db: Db;
  logger: Logger;
  /** Defaults to SMTP_URL's server, or the outbox folder. */
  mailer?: Mailer;
}

/** Every side effect a workflow can ask for. Each activity is idempotent: run twice, the world changes once. */
export function createActivities({ config, db, mailer }: ActivityDeps) {
  const emailDeps = {
    db,
    mailer: mailer ?? createMailer({ smtpUrl: config.email.smtpUrl, outboxDir: config.email.outboxDir }),
    from: config.email.from,
  };
  const stripe = config.stripe.secretKey
    ? createStripe({ secretKey: config.stripe.secretKey, apiUrl: config.stripe.apiUrl })
    : undefined;
  const bridge = config.legacy.url
    ? legacyBridge({
        baseUrl: config.legacy.url,
        token: config.legacy.token,
        breakAfter: config.legacy.breakAfter,
        halfOpenAfterMs: config.legacy.halfOpenAfterMs,
      })
    : undefined;
  return {
    ...flowActivities({ db }),
    ...automationActivities({
      ...emailDeps,
      bridge,
      opsEmail: config.email.ops,
      companyName: config.email.from,
    }),
    ...proposalActivities({ db }),
    ...orderActivities({ ...emailDeps, opsEmail: config.email.ops, companyName: config.companyName }),
    ...invoiceActivities({
      ...emailDeps,
      stripe,
      publicUrl: config.api.publicUrl,
      signingSecret: config.signingSecret,
      companyName: config.companyName,
    }),
    ...contractActivities({
      ...emailDeps,
      publicUrl: config.api.publicUrl,
      signingSecret: config.signingSecret,
      companyName: config.companyName,
    }),
    ...projectActivities({
      ...emailDeps,
      publicUrl: config.api.publicUrl,
      signingSecret: config.signingSecret,
      companyName: config.companyName,
      opsEmail: config.email.ops,
    }),
    ...supplierOrderActivities({
      ...emailDeps,
      publicUrl: config.api.publicUrl,
      companyName: config.companyName,
      opsEmail: config.email.ops,
      secrets: createSecretBox(requireSetting(config.temporal.payloadKeys, 'PAYLOAD_KEYS')),
      addressPolicy: config.supplierUrls,
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
