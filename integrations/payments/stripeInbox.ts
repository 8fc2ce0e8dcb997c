import { type Kysely, sql } from 'kysely';
import type Stripe from 'stripe';
import type { Database } from '../../db/schema.js';
import type { Logger } from '../../runtime/logger.js';
import { applyStripeEvents, type StripeEventEffects } from './stripeEvents.js';

/**
 * The relay behind Stripe's webhook. The webhook stores a delivery and answers; the relay then, in arrival
 * order and in batches, applies the stored events in one transaction per batch (marking each receipt processed,
 * with what its flows are to be told), and tells the flows, marking each receipt relayed (and its payments
 * signalled) once they were. Nothing is lost in between: a receipt not processed, or processed and not relayed,
 * is picked up again, by this process or another, and telling a flow twice is harmless (flows read the facts).
 */
export interface StripeInbox {
  /**
   * Stores one delivery (once per event id) and resolves when it is stored; the relay then applies it.
   * Deliveries that arrive while one is being stored are stored together in the next statement.
   */
  receive(event: Pick<Stripe.Event, 'id' | 'type'>, raw: string): Promise<{ duplicate: boolean }>;
  /** Applies and relays everything that is due now; resolves when nothing is. */
  drain(): Promise<void>;
  /** Looks for due receipts every `sweepMs` too: those left by a process that stopped, or waiting to retry. */
  start(): void;
  /** Stops relaying (deliveries are still stored) and waits for the batch in hand. */
  stop(): Promise<void>;
}

export interface StripeInboxOptions {
  db: Kysely<Database>;
  logger: Logger;
  /**
   * Tells the flows what one event changed; throws if it could not tell them all. A flow it starts runs on the
   * task queue of the deployment that received the event (`taskQueue`), whichever process relays it.
   */
  tell: (effects: StripeEventEffects, taskQueue: string) => Promise<void>;
  /** This deployment's task queue, recorded with each event it receives. */
  taskQueue: string;
  batchSize?: number;
  sweepMs?: number;
  /** Signals in flight at once. */
  parallel?: number;
}

/** How long a relay may take to tell a batch's flows before another may take the batch over. */
const LEASE_SECONDS = 60;
const MAX_RETRY_SECONDS = 3_600;
/** Stripe retries a delivery for up to three days: a payment that has not come by then is not coming. */
const WAIT_FOR_PAYMENT_MS = 3 * 24 * 3_600_000;

/** 2, 4, 8 … seconds after each failed attempt, at most an hour. */
const retryAt = (attempts: number) =>
  sql<Date>`now() + make_interval(secs => ${Math.min(MAX_RETRY_SECONDS, 2 ** (attempts + 1))})`;

interface Applied {
  id: string;
  effects: StripeEventEffects;
  attempts: number;
  task_queue: string | null;
}

export function createStripeInbox({
  db,
  logger,
  tell,
  taskQueue,
  batchSize = 200,
  sweepMs = 1_000,
  parallel = 32,
}: StripeInboxOptions): StripeInbox {
  let running: Promise<void> | undefined;
  let again = false;
  let sweeper: NodeJS.Timeout | undefined;

  const due = (trx: Kysely<Database>) =>
    trx
      .selectFrom('webhook_receipts')
      .where('source', '=', 'stripe')
      .where('relayed_at', 'is', null)
      .where((eb) => eb.or([eb('retry_at', 'is', null), eb('retry_at', '<=', sql<Date>`now()`)]));

  /** One batch of stored events applied in one transaction; the ones with news are leased to this relay. */
  async function applyBatch(): Promise<{ taken: number; toTell: Applied[] }> {
    return db.transaction().execute(async (trx) => {
      const receipts = await due(trx)
        .select(['id', 'payload', 'attempts', 'received_at', 'task_queue'])
        .where('processed_at', 'is', null)
        .orderBy('position')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      const toTell = await applyReceipts(trx, receipts);
      return { taken: receipts.length, toTell };
    });
  }

  /** Applies receipts in one transaction and marks them; returns those whose flows are to be told. */
  async function applyReceipts(
    trx: Kysely<Database>,
    receipts: {
      id: string;
      payload: unknown;
      attempts: number;
      received_at: Date;
      task_queue: string | null;
    }[],
  ): Promise<Applied[]> {
    const effects = await applyStripeEvents(
      trx,
      receipts.map((receipt) => receipt.payload as Stripe.Event),
    );
    const applied: Applied[] = [];
    for (const [i, receipt] of receipts.entries()) {
      const outcome = effects[i] ?? { news: [] };
      const waitedEnough = Date.now() - receipt.received_at.getTime() > WAIT_FOR_PAYMENT_MS;
      if (outcome.notYet && !waitedEnough)
        await markFailed(trx, receipt.id, receipt.attempts, outcome.notYet);
      // A refund of a payment never seen after Stripe's own retry window is not Flowdesk's: it stays on
      // record, with why it applied to nothing (`effects.notYet`).
      else
        applied.push({
          id: receipt.id,
          effects: outcome,
          attempts: receipt.attempts,
          task_queue: receipt.task_queue,
        });
    }
    await markProcessed(trx, applied);
    return applied.filter(({ effects }) => hasNews(effects));
  }

  async function markProcessed(trx: Kysely<Database>, applied: Applied[]): Promise<void> {
    if (applied.length === 0) return;
    // One statement for the batch; a receipt with nobody to tell is relayed as it is processed.
    await sql`
      update webhook_receipts set processed_at = now(), effects = batch.effects, last_error = null,
        relayed_at = case when batch.news then null else now() end,
        retry_at = case when batch.news then now() + make_interval(secs => ${LEASE_SECONDS}) end
      from unnest(${applied.map((a) => a.id)}::uuid[], ${applied.map((a) => JSON.stringify(a.effects))}::jsonb[],
                  ${applied.map((a) => hasNews(a.effects))}::boolean[]) as batch(id, effects, news)
      where webhook_receipts.id = batch.id`.execute(trx);
  }

  async function markFailed(trx: Kysely<Database>, id: string, attempts: number, why: string): Promise<void> {
    await trx
      .updateTable('webhook_receipts')
      .set({ attempts: attempts + 1, last_error: why, retry_at: retryAt(attempts) })
      .where('id', '=', id)
      .execute();
  }

  /** When a batch cannot commit, each of its events is applied alone, so one bad event holds up only itself. */
  async function applyOneByOne(): Promise<Applied[]> {
    const ids = await due(db)
      .select('id')
      .where('processed_at', 'is', null)
      .orderBy('position')
      .limit(batchSize)
      .execute();
    const toTell: Applied[] = [];
    for (const { id } of ids) {
      try {
        const applied = await db.transaction().execute(async (trx) => {
          const receipt = await due(trx)
            .select(['id', 'payload', 'attempts', 'received_at', 'task_queue'])
            .where('id', '=', id)
            .where('processed_at', 'is', null)
            .forUpdate()
            .skipLocked()
            .executeTakeFirst();
          return receipt ? applyReceipts(trx, [receipt]) : [];
        });
        toTell.push(...applied);
      } catch (error) {
        logger.error(
          { err: error, receiptId: id },
          'a Stripe event could not be applied; it is tried again later',
        );
        const { attempts } = await db
          .selectFrom('webhook_receipts')
          .select('attempts')
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        await markFailed(db, id, attempts, error instanceof Error ? error.message : String(error));
      }
    }
    return toTell;
  }

  /** Receipts processed but not relayed whose lease ran out (a relay stopped), or that wait to be retried. */
  async function leaseLeftOver(): Promise<Applied[]> {
    const rows = await sql<Applied>`
      update webhook_receipts set retry_at = now() + make_interval(secs => ${LEASE_SECONDS})
      where id in (
        select id from webhook_receipts
        where source = 'stripe' and relayed_at is null and processed_at is not null
          and (retry_at is null or retry_at <= now())
        order by position limit ${batchSize} for update skip locked)
      returning id, effects, attempts, task_queue`.execute(db);
    return rows.rows;
  }

  async function relay(batch: Applied[]): Promise<void> {
    if (batch.length === 0) return;
    const told: Applied[] = [];
    const failed: { receipt: Applied; error: unknown }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(parallel, batch.length) }, async () => {
        for (let receipt = batch[next++]; receipt; receipt = batch[next++]) {
          try {
            await tell(receipt.effects, receipt.task_queue ?? taskQueue);
            told.push(receipt);
          } catch (error) {
            failed.push({ receipt, error });
          }
        }
      }),
    );
    if (told.length > 0)
      await db
        .updateTable('webhook_receipts')
        .set({ relayed_at: sql`now()`, retry_at: null, last_error: null })
        .where(
          'id',
          'in',
          told.map(({ id }) => id),
        )
        .execute();
    for (const { receipt, error } of failed) {
      logger.warn(
        { err: error, receiptId: receipt.id },
        'flows not told of a Stripe event yet; tried again later',
      );
      await markFailed(
        db,
        receipt.id,
        receipt.attempts,
        error instanceof Error ? error.message : String(error),
      );
    }
  }

  /**
   * Batches until nothing is due; a nudge during a batch asks for one more. The flows of one batch are told
   * while the next is applied.
   */
  async function work(): Promise<void> {
    let telling: Promise<void> = Promise.resolve();
    try {
      do {
        again = false;
        let applied: { taken: number; toTell: Applied[] };
        try {
          applied = await applyBatch();
        } catch (error) {
          logger.warn(
            { err: error },
            'a batch of Stripe events could not be applied together; one by one now',
          );
          applied = { taken: 0, toTell: await applyOneByOne() };
        }
        await telling;
        telling = relay(applied.toTell);
        // Awaited below, after the next batch is applied; until then a failure (the database gone) must not
        // count as unhandled, which would stop the process.
        telling.catch(() => undefined);
        if (applied.taken === batchSize) again = true;
      } while (again);
      await telling;
      const leftOver = await leaseLeftOver();
      await relay(leftOver);
      if (leftOver.length === batchSize) again = true;
    } finally {
      await telling.catch(() => undefined);
    }
  }

  /** Runs the relay now, or once more after the batch in hand. */
  function relayNow(): void {
    if (running) {
      again = true;
      return;
    }
    running = work()
      .catch((error) =>
        logger.error({ err: error }, 'the Stripe inbox relay failed; it resumes at the next sweep'),
      )
      .finally(() => {
        running = undefined;
      });
  }

  /** A stopped inbox only stores: what it stored waits for a running one. */
  function nudge(): void {
    if (sweeper) relayNow();
  }

  interface Delivery {
    event: Pick<Stripe.Event, 'id' | 'type'>;
    raw: string;
    stored: (outcome: { duplicate: boolean }) => void;
    failed: (error: unknown) => void;
  }
  let arriving: Delivery[] = [];
  let storing: Promise<void> | undefined;

  async function storeArrivals(): Promise<void> {
    while (arriving.length > 0) {
      const group = arriving;
      arriving = [];
      try {
        const stored = new Set(
          (
            await db
              .insertInto('webhook_receipts')
              .values(
                group.map(({ event, raw }) => ({
                  source: 'stripe',
                  external_id: event.id,
                  event_type: event.type,
                  payload: raw,
                  task_queue: taskQueue,
                })),
              )
              .onConflict((oc) => oc.columns(['source', 'external_id']).doNothing())
              .returning('external_id')
              .execute()
          ).map((row) => row.external_id),
        );
        // Two deliveries of one event in a group: the first stored it.
        for (const delivery of group) {
          delivery.stored({ duplicate: !stored.delete(delivery.event.id) });
        }
        nudge();
      } catch (error) {
        for (const delivery of group) delivery.failed(error);
      }
    }
    storing = undefined;
  }

  return {
    receive(event, raw) {
      return new Promise((stored, failed) => {
        arriving.push({ event, raw, stored, failed });
        storing ??= storeArrivals();
      });
    },
    async drain() {
      do {
        relayNow();
        await running;
      } while (
        await due(db)
          .select('id')
          .limit(1)
          .executeTakeFirst()
          .then((row) => row !== undefined)
      );
    },
    start() {
      sweeper ??= setInterval(relayNow, sweepMs);
      sweeper.unref();
      relayNow();
    },
    async stop() {
      clearInterval(sweeper);
      sweeper = undefined;
      await running;
      await storing;
    },
  };
}

const hasNews = (effects: StripeEventEffects) =>
  effects.news.length > 0 || effects.expired !== undefined || effects.paidOrder !== undefined;
