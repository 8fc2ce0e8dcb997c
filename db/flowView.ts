import type { Kysely } from 'kysely';
import type { FlowPublication, FlowState, FlowStatus, StepState, StepStatus } from '../domain/flow.js';
import { TERMINAL_STATES } from '../domain/flow.js';
import { appendEvents } from './events.js';
import type { Database } from './schema.js';

/**
 * What a parent shows while a child does some of its steps (a proposal's "contract sent" is the contract flow's
 * "sendSigningLink"): the child's publications write those steps, and the state they put the parent in, on the
 * parent's row, in the child's own transaction. The parent is never signalled: it reads as its children are.
 */

const DONE: readonly StepState[] = ['completed', 'skipped', 'manual'];

/**
 * The parent's state while a child does its current work: as the child's, whatever step of the child it is (a
 * receipt the parent does not show as a step of its own still makes the parent need attention).
 */
function stateOf(child: Pick<FlowStatus, 'attention' | 'waitingFor'>): Exclude<FlowState, 'paused'> {
  if (child.attention) return child.attention.reason === 'retrying' ? 'retrying' : 'needs_attention';
  return child.waitingFor ? 'waiting' : 'running';
}

const progressOf = (steps: StepStatus[]) => steps.filter((step) => DONE.includes(step.state)).length;

/**
 * The parent's row after a child's publication: its milestone steps as the child's are, the parent's current
 * step, state, wait and attention as the child's (a decision named there goes to the child). The milestones the
 * child completed are recorded once on the parent's trail, with the key the parent itself uses for them.
 */
export async function followChild(
  trx: Kysely<Database>,
  child: FlowStatus,
  parent: NonNullable<FlowPublication['parent']>,
  occurredAt: string,
): Promise<void> {
  const row = await trx
    .selectFrom('flows')
    .select(['steps', 'state', 'run_id', 'tenant_id', 'current_step', 'attention', 'waiting_for'])
    .where('id', '=', parent.flowId)
    .forUpdate()
    .executeTakeFirst();
  if (!row?.steps || row.run_id !== parent.runId || TERMINAL_STATES.includes(row.state as FlowState)) return;
  const childStepOf = new Map(
    Object.entries(parent.milestones).map(([childStep, step]) => [step, childStep]),
  );
  const completed: string[] = [];
  const steps = row.steps.map((step) => {
    const mine = child.steps.find((candidate) => candidate.name === childStepOf.get(step.name));
    if (!mine || mine.state === 'pending' || DONE.includes(step.state)) return step;
    const state: StepState = DONE.includes(mine.state) ? 'completed' : mine.state;
    if (state === 'completed') completed.push(step.name);
    return {
      ...step,
      state,
      attempts: mine.attempts,
      startedAt: step.startedAt ?? mine.startedAt,
      endedAt: mine.endedAt,
      lastError: mine.lastError,
      nextAttemptAt: mine.nextAttemptAt,
      resolvedBy: mine.resolvedBy,
    };
  });
  const active = !TERMINAL_STATES.includes(child.state);
  const currentStep = parent.milestones[child.currentStep ?? ''] ?? row.current_step;
  const state = row.state === 'paused' || !active ? row.state : stateOf(child);
  await trx
    .updateTable('flows')
    .set({
      steps: JSON.stringify(steps),
      progress_done: progressOf(steps),
      current_step: currentStep,
      state,
      // A child that has ended waits for nothing and needs nobody; the parent says what comes next.
      waiting_for: active ? child.waitingFor : null,
      attention: JSON.stringify(
        active
          ? child.attention && { ...child.attention, flowId: child.attention.flowId ?? child.flowId }
          : null,
      ),
      updated_at: occurredAt,
    })
    .where('id', '=', parent.flowId)
    .execute();
  await appendEvents(
    trx,
    completed.map((step) => ({
      tenantId: row.tenant_id,
      type: 'flow.step.completed',
      actor: { type: 'system', id: 'flowdesk' },
      entity: { type: 'flow', id: parent.flowId },
      flowId: parent.flowId,
      payload: {
        step,
        child: child.flowId,
        state,
        progress: { done: progressOf(steps), total: steps.length },
      },
      occurredAt,
      // The parent publishes the same milestone when its child completes: one key, one event.
      idempotencyKey: `${parent.flowId}/${parent.runId}/flow.step.completed/${step}/${child.flowId}#1`,
    })),
  );
}

/** Whether a flow shows what its child wrote on its row: it delegates a step and has no pause, end or problem of its own. */
export function showsChild(status: FlowStatus): boolean {
  const delegated = status.steps.some((step) => step.delegatedTo !== undefined && !DONE.includes(step.state));
  const ownProblem = status.attention !== null && !status.attention.flowId;
  return delegated && !ownProblem && status.state !== 'paused' && !TERMINAL_STATES.includes(status.state);
}

/**
 * A parent's own publication while a child does its current steps: those steps stay as the child wrote them
 * (the parent has not heard), and so do the state, wait and attention that follow from them; its own pause, end
 * or problem is its own.
 */
export async function ownView(
  trx: Kysely<Database>,
  status: FlowStatus,
): Promise<
  Pick<FlowStatus, 'steps' | 'state' | 'currentStep' | 'waitingFor' | 'attention'> & {
    done: number;
    /** Whether what it shows is its child's (it is delegating a step and has no pause or problem of its own). */
    followsChild: boolean;
  }
> {
  const as = { ...status, done: progressOf(status.steps), followsChild: false };
  if (!showsChild(status)) return as;
  const row = await trx
    .selectFrom('flows')
    .select(['steps', 'current_step', 'waiting_for', 'attention'])
    .where('id', '=', status.flowId)
    .forUpdate()
    .executeTakeFirst();
  if (!row?.steps) return as;
  const stored = new Map(row.steps.map((step) => [step.name, step]));
  const steps = status.steps.map((step) => {
    const written = stored.get(step.name);
    if (!step.delegatedTo || !written || written.state === 'pending' || DONE.includes(step.state))
      return step;
    return { ...written, delegatedTo: step.delegatedTo };
  });
  // The wait and the problem the child wrote here are the child's current ones.
  const attention = row.attention as FlowStatus['attention'];
  return {
    steps,
    state: stateOf({ attention, waitingFor: row.waiting_for }),
    currentStep: row.current_step ?? status.currentStep,
    waitingFor: row.waiting_for,
    attention,
    done: progressOf(steps),
    followsChild: true,
  };
}
