import { type Client, type WorkflowExecutionDescription, WorkflowNotFoundError } from '@temporalio/client';
import { decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/codec-helpers.js';
import { sql } from 'kysely';
import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import { leftOpenBy } from '../db/leftOpen.js';
import type { FlowsTable } from '../db/schema.js';
import {
  type Actor,
  type FlowState,
  type FlowStatus,
  flowStatusQuery,
  SYSTEM,
  TERMINAL_STATES,
} from '../domain/flow.js';
import { every } from '../runtime/every.js';
import type { Logger } from '../runtime/logger.js';

export interface ReconcilerOptions {
  db: Db;
  client: Client;
  /** Only flows of this task queue are this worker's to reconcile. */
  taskQueue: string;
  logger: Logger;
  /** How many open flows one pass visits at most (each costs one describe). */
  batch?: number;
  /** A flow that published more recently than this is moving and is left alone. */
  quietForMs?: number;
  /** Failed attempts of one workflow task after which the flow is shown as stuck. */
  stuckAfterAttempts?: number;
}

export interface ReconcilePass {
  visited: number;
  stuck: string[];
  /** Flows whose step's activity someone paused in Temporal (`temporal activity pause`). */
  activityPaused: string[];
  closed: string[];
  adopted: string[];
}

type FlowRow = Pick<FlowsTable, 'id' | 'tenant_id' | 'run_id' | 'state' | 'current_step'> & {
  attention?: unknown;
};
type PendingActivity = NonNullable<WorkflowExecutionDescription['raw']['pendingActivities']>[number];

const CLOSED_AS: Record<string, FlowState> = {
  TERMINATED: 'terminated',
  TIMED_OUT: 'terminated',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
};

/**
 * Keeps the `flows` table true to Temporal when something happens there that the flow itself cannot publish:
 * an execution terminated or timed out (no compensation ran), a reset that started a new run, a workflow task
 * that keeps failing (a bug: Temporal retries it, the flow stands still). Each pass compares the running
 * executions with their rows (a reset can bring back a flow that had ended), and describes a bounded batch of
 * quiet open flows, least recently checked first. Every finding is written once, with an audit event.
 */
export function createReconciler(options: ReconcilerOptions) {
  const { db, client, taskQueue, logger } = options;
  const batch = options.batch ?? 50;
  const quietForMs = options.quietForMs ?? 30_000;
  const stuckAfter = options.stuckAfterAttempts ?? 3;

  async function reconcileOnce(): Promise<ReconcilePass> {
    const pass: ReconcilePass = { visited: 0, stuck: [], activityPaused: [], closed: [], adopted: [] };
    await adoptResetRuns(pass);

    const rows = await db
      .selectFrom('flows')
      .select(['id', 'tenant_id', 'run_id', 'state', 'current_step', 'attention'])
      .where('state', 'not in', TERMINAL_STATES)
      .where('updated_at', '<', new Date(Date.now() - quietForMs))
      .orderBy(sql`reconciled_at nulls first`)
      .orderBy('id')
      .limit(batch)
      .execute();
    for (const row of rows) {
      pass.visited++;
      try {
        await reconcile(row, pass);
      } catch (error) {
        logger.warn(
          { err: error, flowId: row.id },
          'could not reconcile the flow; the next pass tries again',
        );
      }
      await db.updateTable('flows').set({ reconciled_at: new Date() }).where('id', '=', row.id).execute();
    }
    return pass;
  }

  async function reconcile(row: FlowRow, pass: ReconcilePass): Promise<void> {
    let latest: WorkflowExecutionDescription;
    try {
      latest = await client.workflow.getHandle(row.id).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return;
      throw error;
    }
    if (latest.taskQueue !== taskQueue) return;
    const status = latest.status.name;
    if (status === 'RUNNING') {
      // A new run (continued as new, or a reset's, which adoptResetRuns takes) speaks for itself.
      if (row.run_id && latest.runId !== row.run_id) return;
      const attempt = latest.raw.pendingWorkflowTask?.attempt ?? 0;
      const paused = (latest.raw.pendingActivities ?? []).find((activity) => activity.paused);
      if (attempt >= stuckAfter) {
        await markStuck(row, latest, attempt);
        pass.stuck.push(row.id);
      } else if (paused) {
        if (await markActivityPaused(row, latest, paused)) pass.activityPaused.push(row.id);
      } else if (row.state === 'stuck' && (await adopt(row, latest, 'flow.unstuck'))) {
        pass.adopted.push(row.id);
      }
      return;
    }
    const closedAs = CLOSED_AS[status];
    if (closedAs && (!row.run_id || row.run_id === latest.runId)) {
      await markClosed(row, latest, closedAs);
      pass.closed.push(row.id);
    }
  }

  /**
   * Running executions whose row shows another run: a reset's new run (a reset run starts at its original's time,
   * so it does not take the row over by itself), even of a flow the row shows as ended. A run continued as new
   * publishes itself. Costs one visibility page per thousand open flows, and a describe per mismatch.
   */
  async function adoptResetRuns(pass: ReconcilePass): Promise<void> {
    const running = client.workflow.list({
      query: `TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`,
    });
    let page: Array<{ workflowId: string; runId: string }> = [];
    const check = async () => {
      const rows = await db
        .selectFrom('flows')
        .select(['id', 'tenant_id', 'run_id', 'state', 'current_step'])
        .where(
          'id',
          'in',
          page.map((execution) => execution.workflowId),
        )
        .execute();
      const runs = new Map(page.map((execution) => [execution.workflowId, execution.runId]));
      for (const row of rows) {
        const runId = runs.get(row.id);
        if (!row.run_id || !runId || row.run_id === runId) continue;
        const previous = await client.workflow.getHandle(row.id, row.run_id).describe();
        if (previous.status.name === 'RUNNING' || previous.status.name === 'CONTINUED_AS_NEW') continue;
        const latest = await client.workflow.getHandle(row.id).describe();
        if (latest.runId === runId && (await adopt(row, latest, 'flow.reset'))) pass.adopted.push(row.id);
      }
      page = [];
    };
    for await (const execution of running) {
      page.push({ workflowId: execution.workflowId, runId: execution.runId });
      if (page.length === 500) await check();
    }
    if (page.length > 0) await check();
  }

  /** The run's own status, asked of its code, becomes the row; false when the flow did not answer. */
  async function adopt(row: FlowRow, run: WorkflowExecutionDescription, eventType: string): Promise<boolean> {
    let status: FlowStatus;
    try {
      status = await client.withAbortSignal(AbortSignal.timeout(5_000), () =>
        client.workflow.getHandle(row.id, run.runId).query(flowStatusQuery),
      );
    } catch (error) {
      logger.warn(
        { err: error, flowId: row.id, runId: run.runId },
        'the new run did not answer its status yet',
      );
      return false;
    }
    const newRun = row.run_id !== run.runId;
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('flows')
        .set({
          run_id: run.runId,
          state: status.state,
          current_step: status.currentStep,
          progress_done: status.progress.done,
          progress_total: status.progress.total,
          waiting_for: status.waitingFor,
          attention: JSON.stringify(status.attention),
          updated_at: new Date(),
          ended_at: TERMINAL_STATES.includes(status.state) ? new Date() : null,
          // The new run's own publications continue from the point it was reset to: they must win from here.
          ...(newRun && { version: 0, run_started_at: run.startTime }),
        })
        .where('id', '=', row.id)
        .execute();
      await appendEvent(trx, {
        tenantId: row.tenant_id,
        type: eventType,
        actor: SYSTEM,
        entity: { type: 'flow', id: row.id },
        flowId: row.id,
        payload: {
          previousRunId: row.run_id,
          runId: run.runId,
          previousState: row.state,
          state: status.state,
        },
        idempotencyKey: `${row.id}/${run.runId}/${eventType}/${row.state}`,
      });
    });
    logger.info(
      { flowId: row.id, runId: run.runId, state: status.state },
      `${eventType}: the row follows Temporal`,
    );
    return true;
  }

  async function markStuck(row: FlowRow, run: WorkflowExecutionDescription, attempt: number): Promise<void> {
    const failure = await lastEvent(row.id, run.runId, (event) => event.workflowTaskFailedEventAttributes);
    // Its text is encrypted in the history, as every failure Flowdesk writes is: read through the client's codec.
    const decoded = await decodeOptionalFailureToOptionalError(
      client.options.loadedDataConverter,
      failure?.attributes.failure,
    ).catch(() => undefined);
    const error = decoded?.message ?? 'the workflow task keeps failing';
    await showProblem(
      row,
      {
        state: 'stuck',
        reason: 'workflow_task_failing',
        error: `Temporal cannot run the flow's code (attempt ${attempt}): ${error}`,
      },
      {
        type: 'flow.stuck',
        actor: SYSTEM,
        payload: { runId: run.runId, attempt, error },
        key: `${run.runId}/flow.stuck/${failure?.eventId ?? attempt}`,
      },
    );
    logger.warn({ flowId: row.id, attempt, error }, 'flow stuck: its workflow task keeps failing');
  }

  /**
   * An activity paused in Temporal holds its step without the flow knowing: the row says so, once, until the
   * activity is unpaused and the flow's next publication shows where it is.
   */
  async function markActivityPaused(
    row: FlowRow,
    run: WorkflowExecutionDescription,
    activity: PendingActivity,
  ): Promise<boolean> {
    const manual = activity.pauseInfo?.manual;
    const by = manual?.identity ? ` by ${manual.identity}` : '';
    const why = manual?.reason ? `: ${manual.reason}` : '';
    const error = `activity ${activity.activityType?.name ?? activity.activityId} paused in Temporal${by}${why}; unpause it there (temporal activity unpause), or pause the flow here instead`;
    const current = row.attention as { reason?: string } | null;
    if (current?.reason === 'activity_paused') return false;
    await showProblem(
      row,
      { reason: 'activity_paused', error },
      {
        type: 'flow.activity.paused',
        actor: { type: 'system', id: 'temporal' },
        payload: {
          runId: run.runId,
          activityId: activity.activityId,
          activityType: activity.activityType?.name ?? null,
          identity: manual?.identity ?? null,
          reason: manual?.reason ?? null,
        },
        key: `${run.runId}/flow.activity.paused/${activity.activityId}/${activity.attempt ?? 0}`,
      },
    );
    logger.warn({ flowId: row.id, activityId: activity.activityId }, error);
    return true;
  }

  /**
   * Shows what the reconciler found on the flow's row (its attention, and a state when the finding is one) and
   * records it once, in one transaction; a row a newer run has taken over meanwhile is left as it is.
   */
  async function showProblem(
    row: FlowRow,
    problem: { state?: FlowState; reason: 'workflow_task_failing' | 'activity_paused'; error: string },
    event: { type: string; actor: Actor; payload: Record<string, unknown>; key: string },
  ): Promise<void> {
    const attention = {
      step: row.current_step ?? '',
      reason: problem.reason,
      error: problem.error,
      since: new Date().toISOString(),
      options: [],
    };
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('flows')
        .set({ ...(problem.state && { state: problem.state }), attention: JSON.stringify(attention) })
        .where('id', '=', row.id)
        .where('run_id', 'is not distinct from', row.run_id)
        .execute();
      await appendEvent(trx, {
        tenantId: row.tenant_id,
        type: event.type,
        actor: event.actor,
        entity: { type: 'flow', id: row.id },
        flowId: row.id,
        payload: event.payload,
        idempotencyKey: `${row.id}/${event.key}`,
      });
    });
  }

  async function markClosed(
    row: FlowRow,
    run: WorkflowExecutionDescription,
    state: FlowState,
  ): Promise<void> {
    const terminated = await lastEvent(
      row.id,
      run.runId,
      (event) => event.workflowExecutionTerminatedEventAttributes,
    );
    const leftOpen = state === 'terminated' ? await leftOpenBy(db, row.tenant_id, row.id) : [];
    const how =
      run.status.name === 'TIMED_OUT' ? 'timed out' : `${run.status.name.toLowerCase()} in Temporal`;
    const reason = terminated?.attributes.reason ? ` (${terminated.attributes.reason})` : '';
    const message =
      `The flow was ${how}${reason}, outside Flowdesk: nothing was compensated.` +
      (leftOpen.length > 0 ? ` Left open, to close by hand: ${leftOpen.join('; ')}.` : '');
    const closedAt = run.closeTime ?? new Date();
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('flows')
        .set({
          state,
          attention: JSON.stringify(null),
          waiting_for: null,
          ended_at: closedAt,
          updated_at: closedAt,
          run_id: run.runId,
        })
        .where('id', '=', row.id)
        .execute();
      await appendEvent(trx, {
        tenantId: row.tenant_id,
        type: state === 'terminated' ? 'flow.terminated' : `flow.${state}`,
        actor: { type: 'system', id: 'temporal' },
        entity: { type: 'flow', id: row.id },
        flowId: row.id,
        payload: {
          state,
          temporalStatus: run.status.name,
          reason: terminated?.attributes.reason ?? null,
          identity: terminated?.attributes.identity ?? null,
          leftOpen,
          message,
        },
        occurredAt: closedAt,
        idempotencyKey: `${row.id}/${run.runId}/closed-outside`,
      });
    });
    logger.warn({ flowId: row.id, state, leftOpen }, message);
  }

  /** The newest event of the run with the given attributes (read from the end of its history). */
  async function lastEvent<A>(
    workflowId: string,
    runId: string,
    pick: (event: HistoryEvent) => A | null | undefined,
  ): Promise<{ eventId: string; attributes: A } | undefined> {
    const { history } = await client.workflowService.getWorkflowExecutionHistoryReverse({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 20,
    });
    for (const event of history?.events ?? []) {
      const attributes = pick(event);
      if (attributes) return { eventId: String(event.eventId), attributes };
    }
    return undefined;
  }

  /** Passes every `everyMs` until stopped; a pass never overlaps the next. */
  function start(everyMs: number): () => Promise<void> {
    return every(
      everyMs,
      async () => {
        const pass = await reconcileOnce();
        if (pass.stuck.length + pass.closed.length + pass.adopted.length > 0) logger.info(pass, 'reconciled');
      },
      (error) => logger.warn({ err: error }, 'reconciliation pass failed'),
    );
  }

  return { reconcileOnce, start };
}

type HistoryEvent = NonNullable<
  NonNullable<
    Awaited<ReturnType<Client['workflowService']['getWorkflowExecutionHistoryReverse']>>['history']
  >['events']
>[number];
