import { randomBytes, timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { NewSource, SourceChange, SourceKind } from '../../domain/analytics.schema.js';
import type { Actor } from '../../domain/flow.js';
import type { SecretBox } from '../../runtime/secretBox.js';
import { hashSecret } from '../../runtime/secretHash.js';
import type { Db } from '../client.js';
import { appendEvent } from '../events.js';

/**
 * A tenant's status sources: its own flows (one, made with the tenant) and outside CRM projects. The one place a
 * source is written; each change is an audit event. A CRM source's API token is sealed at rest, and its webhook
 * secret is kept only as a hash: it is shown once, when the source is made.
 */

export interface SourceView {
  id: string;
  kind: SourceKind;
  name: string;
  baseUrl: string | null;
  timezone: string;
  allowedIps: string[];
  active: boolean;
  webhookPath: string | null;
  statusesRefreshedAt: string | null;
}

interface Change {
  tenantId: string;
  actor: Actor;
  requestId: string;
}

const columns = [
  'id',
  'kind',
  'name',
  'base_url',
  'timezone',
  'allowed_ips',
  'active',
  'statuses_refreshed_at',
] as const;

function viewOf(row: {
  id: string;
  kind: SourceKind;
  name: string;
  base_url: string | null;
  timezone: string;
  allowed_ips: string[];
  active: boolean;
  statuses_refreshed_at: Date | null;
}): SourceView {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    baseUrl: row.base_url,
    timezone: row.timezone,
    allowedIps: row.allowed_ips,
    active: row.active,
    webhookPath: row.kind === 'keycrm' ? `/webhooks/crm/keycrm/${row.id}` : null,
    statusesRefreshedAt: row.statuses_refreshed_at?.toISOString() ?? null,
  };
}

export async function listSources(db: Db, tenantId: string): Promise<SourceView[]> {
  const rows = await db
    .selectFrom('status_sources')
    .select(columns)
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(viewOf);
}

export async function findSource(db: Db, tenantId: string, id: string): Promise<SourceView | undefined> {
  const row = await db
    .selectFrom('status_sources')
    .select(columns)
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
  return row && viewOf(row);
}

export async function flowdeskSourceId(db: Db, tenantId: string): Promise<string> {
  const row = await db
    .selectFrom('status_sources')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('kind', '=', 'flowdesk')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function createSource(
  db: Db,
  secrets: SecretBox,
  input: NewSource & Change,
): Promise<{ source: SourceView; webhookSecret: string }> {
  const webhookSecret = `crmhook_${randomBytes(24).toString('base64url')}`;
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('status_sources')
      .values({
        tenant_id: input.tenantId,
        kind: input.kind,
        name: input.name,
        base_url: input.baseUrl,
        api_token: secrets.seal(input.apiToken),
        webhook_secret_hash: hashSecret(webhookSecret),
        timezone: input.timezone,
        allowed_ips: input.allowedIps,
        active: input.active,
        // A new source's rate-limit bucket starts full (its level is capped at the bucket's size).
        api_tokens: Number.MAX_SAFE_INTEGER,
      })
      .returning(columns)
      .executeTakeFirstOrThrow();
    await appendEvent(trx, {
      tenantId: input.tenantId,
      type: 'analytics.source.created',
      actor: input.actor,
      entity: { type: 'status_source', id: row.id },
      payload: { kind: input.kind, name: input.name, baseUrl: input.baseUrl, timezone: input.timezone },
      idempotencyKey: `status-source/${row.id}/created`,
    });
    return { source: viewOf(row), webhookSecret };
  });
}

export async function changeSource(
  db: Db,
  secrets: SecretBox,
  input: SourceChange & Change & { sourceId: string },
): Promise<SourceView | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('status_sources')
      .set({
        ...(input.name !== undefined && { name: input.name }),
        ...(input.baseUrl !== undefined && { base_url: input.baseUrl }),
        ...(input.apiToken !== undefined && { api_token: secrets.seal(input.apiToken) }),
        ...(input.timezone !== undefined && { timezone: input.timezone }),
        ...(input.allowedIps !== undefined && { allowed_ips: input.allowedIps }),
        ...(input.active !== undefined && { active: input.active }),
        updated_at: sql`now()`,
      })
      .where('tenant_id', '=', input.tenantId)
      .where('id', '=', input.sourceId)
      .where('kind', '=', 'keycrm')
      .returning(columns)
      .executeTakeFirst();
    if (!row) return undefined;
    const { apiToken, tenantId, actor, requestId, sourceId, ...changed } = input;
    await appendEvent(trx, {
      tenantId,
      type: 'analytics.source.changed',
      actor,
      entity: { type: 'status_source', id: sourceId },
      payload: { ...changed, ...(apiToken !== undefined && { apiToken: 'replaced' }) },
      idempotencyKey: `status-source/${sourceId}/${requestId}`,
    });
    return viewOf(row);
  });
}

/** What a webhook delivery is checked against: found by the source id in its URL, whichever tenant owns it. */
export interface WebhookSource {
  tenantId: string;
  id: string;
  kind: SourceKind;
  active: boolean;
  timezone: string;
  allowedIps: string[];
  isSecret(candidate: string | undefined): boolean;
}

export async function webhookSource(db: Db, sourceId: string): Promise<WebhookSource | undefined> {
  const row = await db
    .selectFrom('status_sources')
    .select(['tenant_id', 'id', 'kind', 'active', 'timezone', 'allowed_ips', 'webhook_secret_hash'])
    .where('id', '=', sourceId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    tenantId: row.tenant_id,
    id: row.id,
    kind: row.kind,
    active: row.active,
    timezone: row.timezone,
    allowedIps: row.allowed_ips,
    isSecret(candidate) {
      if (!candidate || !row.webhook_secret_hash) return false;
      return timingSafeEqual(
        Buffer.from(hashSecret(candidate), 'hex'),
        Buffer.from(row.webhook_secret_hash, 'hex'),
      );
    },
  };
}

/** How to call a CRM source's API: its base URL and (opened) token. */
export async function crmAccess(
  db: Db,
  secrets: SecretBox,
  sourceId: string,
): Promise<{ tenantId: string; baseUrl: string; token: string } | undefined> {
  const row = await db
    .selectFrom('status_sources')
    .select(['tenant_id', 'base_url', 'api_token'])
    .where('id', '=', sourceId)
    .where('kind', '=', 'keycrm')
    .executeTakeFirst();
  if (!row?.base_url || !row.api_token) return undefined;
  return { tenantId: row.tenant_id, baseUrl: row.base_url, token: secrets.open(row.api_token) };
}
