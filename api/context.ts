import type { Client } from '@temporalio/client';
import type { Db } from '../db/client.js';
import type { StripeInbox } from '../integrations/payments/stripeInbox.js';
import type { Config } from '../runtime/config.js';
import type { Logger } from '../runtime/logger.js';
import type { SecretBox } from '../runtime/secretBox.js';
import type { Principal } from './apiKeys.js';
import type { StatusHub } from './statusHub.js';

/** What every route handler may use; built once per process by the entry point (or by a test). */
export interface ApiDeps {
  config: Config;
  db: Db;
  temporal: Client;
  logger: Logger;
  /** Where Stripe's webhook leaves events for the relay that applies them. */
  stripeInbox: StripeInbox;
  /** Seals the secrets Flowdesk keeps for others (a supplier's credentials, its webhook secret). */
  secrets: SecretBox;
  /** This process's listener for status changes, which the live streams subscribe to. */
  statusHub: StatusHub;
}

export interface ApiEnv {
  Variables: {
    requestId: string;
    principal: Principal;
    /** Where the request came from, through trusted proxies (api/clientAddress.ts). */
    clientAddress: string;
  };
}
