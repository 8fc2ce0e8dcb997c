import { sql } from 'kysely';
import type { Db } from './client.js';

/**
 * Cuts webhook payloads older than `keepDays` down to what deduplication and the audit trail need: the event's
 * id, type and time, and the id and kind of the object it was about. What the delivery did stays on the receipt
 * (its processing, `effects`, the domain events). A Stripe event not yet applied keeps everything.
 */
export async function pruneWebhookPayloads(db: Db, keepDays: number): Promise<number> {
  const { numAffectedRows } = await sql`
    update webhook_receipts set pruned_at = now(), payload = jsonb_strip_nulls(jsonb_build_object(
      'id', payload->'id', 'type', coalesce(payload->'type', payload->'event'),
      'created', coalesce(payload->'created', payload->'generatedDateTime'),
      'object', jsonb_build_object(
        'id', coalesce(payload->'data'->'object'->'id', payload->'data'->'id', payload->'data'->'envelopeId'),
        'object', payload->'data'->'object'->'object')))
    where pruned_at is null and received_at < now() - make_interval(days => ${keepDays})
      and (source <> 'stripe' or relayed_at is not null)`.execute(db);
  return Number(numAffectedRows ?? 0);
}
