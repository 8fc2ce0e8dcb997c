import {
  ActivityFailure,
  ApplicationFailure,
  type Duration,
  msToNumber,
  TemporalFailure,
} from '@temporalio/common';
import {
  allHandlersFinished,
  CancellationScope,
  type ChildWorkflowOptions,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  proxyLocalActivities,
  type SignalDefinition,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { RetrySettings } from '../../domain/durations.js';
import {
  type Actor,
  type Attention,
  type ChildStatus,
  type FlowChange,
  type FlowPublication,
  type FlowState,
  type FlowStatus,
  flowStatusQuery,
  type PauseRequest,
  pauseFlow,
  type ResolveRequest,
  resolveStep,
  resumeFlow,
  type StepState,
  type StepStatus,
  SYSTEM,
  TERMINAL_STATES,
} from '../../domain/flow.js';
import type {
  DecisionFor,
  DecisionOf,
  FlowDefinition,
  InputOf,
  StepOf,
} from '../../domain/flowDefinition.js';
import {
  BusinessKey,
  FlowState as FlowStateAttribute,
  FlowStep,
  TenantId,
} from '../../domain/searchAttributes.js';
import type { KernelActivities } from './activities.js';
import { NON_RETRYABLE_ERROR_TYPES } from './retry.js';

const { publishFlowChanges } = proxyLocalActivities<KernelActivities>({
  startToCloseTimeout: '10 seconds',
  // Publishing must not be lost: while the database is away the flow waits here and tries again.
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

/** One run of a flow: what its definition does not say. */
export interface FlowOptions<F extends FlowDefinition> {
  businessKey: string;
  tenantId: string;
  /** The retry schedule of its steps, from the flow's input: the kernel runs it with durable timers. */
  retry: Pick<RetrySettings, 'maximumAttempts' | 'initialInterval' | 'maximumInterval'>;
  /** Show one of the definition's other step lists (a later billing cycle). */
  variant?: keyof F['variants'] & string;
  /** Set when this run continues an earlier one (continueAsNew): its row and audit trail carry on from there. */
  continues?: FlowContinuation;
}

/** What a run hands to the next one when it continues as new. */
export interface FlowContinuation {
  sequence: number;
  startedAt: string;
}

export interface StepOptions<T, F extends FlowDefinition> {
  /**
   * How an operator's `skip` or `fallback` turns into the step's result. Without it the step can only be retried:
   * a step whose result the process needs cannot be skipped.
   */
  manual?: (decision: DecisionFor<F>) => T;
  /**
   * When the result needs a person's word before the flow goes on (an order emailed to a supplier: did it
   * arrive?), the question to ask. The operator confirms with `fallback` and a note, or runs the step again.
   */
  confirm?: (result: T) => string | undefined;
  /**
   * Announces that the retry schedule ran out (or the failure is one no retry mends), before a person is asked:
   * an audit event, a notice to ops. Called once each time the step gives up.
   */
  whenExhausted?: (error: string) => Promise<void>;
}

export interface WaitOptions<F extends FlowDefinition> {
  /** How long to wait before the flow needs attention (or until when, in workflow time); none waits for ever. */
  deadline?: Duration | { at: number };
  /** Reminders on an interval… */
  remindEvery?: Duration;
  /** …or at fixed moments (workflow time, ms since the epoch), e.g. the due date and each dunning step. */
  remindAt?: readonly number[];
  /** Fewer reminders than the kernel's cap ({@link MAX_REMINDERS_PER_WAIT}), never more. */
  maxReminders?: number;
  /**
   * Sends the n-th reminder (an activity with its own idempotency key). Silenced while the flow is paused; with
   * `remindAt`, n is the reminder's position in that list, and moments already past are not sent.
   */
  remind?: (n: number) => Promise<void>;
  /** What an operator may decide when the deadline passes; `extend` is handled here, the others are returned. */
  onDeadline?: DecisionOf<F>[];
  /** Announces that the deadline passed, before a person is asked (an audit event, a notice, the parent told). */
  whenOverdue?: (deadlineAt: number) => Promise<void>;
  /** Records an operator's extension (the new date the business now expects). */
  whenExtended?: (deadlineAt: number, decision: DecisionFor<F>) => Promise<void>;
  /** Why a decision at the deadline cannot be taken as it stands (the API answers 409 with it), if it cannot. */
  checkDecision?: (decision: DecisionFor<F>) => string | undefined;
  /**
   * Whether news came that the facts may have changed (a signal carries ids, never facts): then `reread` reads
   * them again (an activity) and acts on them while the wait goes on, and must leave `news` false. Not while
   * the flow is paused.
   */
  news?: () => boolean;
  reread?: () => Promise<void>;
}

export type WaitOutcome<F extends FlowDefinition> =
  | { done: true }
  | { done: false; decision: DecisionFor<F> };

/** The operator's decision that asked for this attempt of a step. */
export interface Retry<F extends FlowDefinition> {
  /** Whatever the decision authorises, it authorises once: the activity it reaches records the id as used. */
  decisionId: string;
  /** What the operator gave with this decision, as the flow type's `retry` schema has it. */
  input: Partial<InputOf<F, 'retry'>>;
}

/**
 * The decision that authorises one more send of an email an interrupted attempt may have delivered, when the
 * operator asked for it (`{"resend": true}`). Only the attempt it asked for carries it: a later retry without it
 * sends nothing the mail server may already have.
 */
export function resendDecision(retry?: {
  decisionId: string;
  input: { resend?: boolean };
}): string | undefined {
  return retry?.input.resend === true ? retry.decisionId : undefined;
}

/** How a question to the operator waits: in which state, for how long, and what records it. */
interface AskOptions<F extends FlowDefinition> {
  state: 'needs_attention' | 'retrying';
  /** A retry falls due after this long: the wait ends without a decision. */
  forMs?: number;
  /** The wait also ends, without a decision, once this holds (the customer signed meanwhile). */
  unless?: () => boolean;
  check?: WaitOptions<F>['checkDecision'];
  /** The audit event that records the problem (each failed attempt is one). */
  event: { type: string; payload: Record<string, unknown> };
}

interface Compensation {
  name: string;
  run: () => Promise<void>;
}

const DONE_STATES: readonly StepState[] = ['completed', 'skipped', 'manual'];
/** However a wait is set up, it writes to a customer at most this many times. */
export const MAX_REMINDERS_PER_WAIT = 50;
/** The memo that tells a child flow which of its steps are its parent's too. */
const MILESTONES_MEMO = 'flowdesk.milestones';

/** What went wrong, in the words of the error that caused it. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    // An activity failure wraps the real error as its cause; the cause says what went wrong.
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  return String(error);
}

/**
 * The flow kernel: one instance per workflow run. It owns the flow's status, the controls staff use on it
 * (pause, resume, resolve), the step runner, waits with reminders and deadlines, compensation on cancellation,
 * and publishing of every change (flows row, audit event, search attributes, current details).
 */
/** What a withdrawn child of a set gives instead of a result. */
const WITHDRAWN = Symbol('withdrawn');

/**
 * Changes to a running child set, made by the flow beside it (a change request approved while orders run):
 * children to add and children to withdraw. The set applies them as they come.
 */
export class ChildSetChanges<A extends unknown[]> {
  private added: Array<{ workflowId: string; args: A }> = [];
  private withdrawing: string[] = [];
  /** The children withdrawn so far. */
  readonly withdrawn = new Set<string>();

  add(run: { workflowId: string; args: A }): void {
    this.added.push(run);
  }

  withdraw(workflowId: string): void {
    this.withdrawing.push(workflowId);
  }

  pending(): boolean {
    return this.added.length > 0 || this.withdrawing.length > 0;
  }

  takeAdded(): Array<{ workflowId: string; args: A }> {
    return this.added.splice(0);
  }

  takeWithdrawn(): string[] {
    return this.withdrawing.splice(0);
  }
}

export class Flow<F extends FlowDefinition> {
  private readonly status: FlowStatus;
  private readonly retrySettings: FlowOptions<F>['retry'];
  /** Publications, one at a time. */
  private readonly publishingInTurn = inTurn();
  /** Changes since the last publication, with the decisions taken when each was made. */
  private unpublished: Array<FlowChange & { decisionsTaken: number }> = [];
  /** The search attributes as last upserted: only a change is sent again. */
  private readonly attributes = new Map<string, string>();
  private baseState: Exclude<FlowState, 'paused'> = 'running';
  private sequence = 0;
  /** How many events of each type and step this run has published: the events' stable keys. */
  private readonly published = new Map<string, number>();
  private readonly continued: boolean;
  /** A child flow's steps that are its parent's too (a contract's steps shown on the proposal), from its memo. */
  private readonly milestones: Record<string, string>;
  private decision: ResolveRequest | undefined;
  private decisionCheck: WaitOptions<F>['checkDecision'];
  /** Decisions taken, and decisions the flow has acted on (published the state that follows from them). */
  private decisionsTaken = 0;
  private decisionsSettled = 0;
  private readonly compensations: Compensation[] = [];
  /** Questions to the operator, one at a time: the decision under way is taken before the next is asked. */
  private readonly askingInTurn = inTurn();

  constructor(definition: F, options: FlowOptions<F>) {
    const now = new Date().toISOString();
    const steps = options.variant ? (definition.variants[options.variant] ?? []) : definition.steps;
    this.sequence = options.continues?.sequence ?? 0;
    this.continued = options.continues !== undefined;
    this.retrySettings = options.retry;
    this.status = {
      flowId: workflowInfo().workflowId,
      flowType: definition.type,
      businessKey: options.businessKey,
      tenantId: options.tenantId,
      state: 'running',
      currentStep: null,
      steps: steps.map((name) => ({ name, state: 'pending', attempts: 0 })),
      progress: { done: 0, total: steps.length },
      waitingFor: null,
      attention: null,
      paused: false,
      activeChildren: [],
      parentFlowId: workflowInfo().parent?.workflowId ?? null,
      rootFlowId: workflowInfo().root?.workflowId ?? null,
      startedAt: options.continues?.startedAt ?? now,
      updatedAt: now,
    };
    this.milestones = (workflowInfo().memo?.[MILESTONES_MEMO] as Record<string, string> | undefined) ?? {};
    setHandler(flowStatusQuery, () => this.status);
    setHandler(pauseFlow, (request) => this.pause(request), {
      validator: (request) => this.validatePause(request),
    });
    setHandler(resumeFlow, (request) => this.resume(request), {
      validator: (_request) => this.validateResume(),
    });
    setHandler(resolveStep, (request) => this.resolve(request), {
      validator: (request) => this.validateResolve(request),
    });
  }

  /** Where the next run of this flow starts from, for continueAsNew. */
  get continuation(): FlowContinuation {
    return { sequence: this.sequence, startedAt: this.status.startedAt };
  }

  /**
   * Runs a child flow as part of this one. `milestones` maps the child's steps onto this flow's steps: they
   * complete as the child's do, and while the child waits or needs attention, so does this flow (decisions go
   * to the child, named in `attention.flowId`).
   */
  async child<A extends unknown[], T>(
    workflow: (...args: A) => Promise<T>,
    options: Pick<ChildWorkflowOptions, 'workflowId'> & { args: A },
    milestones: Record<string, StepOf<F>>,
  ): Promise<T> {
    await this.holdWhilePaused();
    const workflowId = options.workflowId ?? '';
    this.status.activeChildren.push(workflowId);
    const delegated = Object.values(milestones)
      .map((name) => this.stepNamed(name))
      .filter((step) => !DONE_STATES.includes(step.state));
    for (const step of delegated) step.delegatedTo = workflowId;
    const first = delegated[0];
    if (first) {
      first.startedAt ??= new Date().toISOString();
      this.enterStep(first, 'running');
    }
    this.publish('flow.child.started', SYSTEM, { child: workflowId });
    await this.flush();
    try {
      // The child's publications write these steps on this flow's row as it goes: no signal comes back here.
      const result = await executeChild(workflow, {
        workflowId,
        args: options.args,
        memo: { [MILESTONES_MEMO]: milestones },
      });
      // The child's last progress may still be on its way; its completion settles every milestone.
      const unsettled = Object.values(milestones)
        .map((name) => this.stepNamed(name))
        .filter((step) => !DONE_STATES.includes(step.state));
      for (const step of unsettled) this.markStep(step, 'completed');
      this.baseState = 'running';
      this.refreshState();
      for (const step of unsettled) {
        this.publish('flow.step.completed', SYSTEM, { step: step.name, child: workflowId });
      }
      return result;
    } finally {
      this.forgetChild(workflowId);
      for (const step of delegated) step.delegatedTo = undefined;
      if (this.status.attention?.flowId === workflowId) this.status.attention = null;
    }
  }

  /**
   * Runs a set of child flows at once as one step (an order per supplier): the step shows each child's state and
   * is done when all are ("k of n"). A child that needs a person is its own item: decisions go to it, and its
   * siblings go on. A child that fails is put in front of an operator here: retry it, or (with `manual`) skip it
   * or complete it by hand. With `changes`, the set may change while it runs (an approved change to what was
   * ordered): a withdrawn child is cancelled (its own compensation runs) and ends as `withdrawn`; an added one
   * joins the set. The results are those of the children that completed, in the order they joined.
   */
  async childSet<A extends unknown[], T>(
    name: StepOf<F>,
    workflow: (...args: A) => Promise<T>,
    runs: ReadonlyArray<{ workflowId: string; args: A }>,
    options: {
      manual?: (decision: DecisionFor<F>, workflowId: string) => T;
      changes?: ChildSetChanges<A>;
    } = {},
  ): Promise<T[]> {
    await this.holdWhilePaused();
    const step = this.stepNamed(name);
    step.startedAt ??= new Date().toISOString();
    step.children = runs.map(({ workflowId }) => ({ flowId: workflowId, state: 'running', attention: null }));
    for (const { workflowId } of runs) this.status.activeChildren.push(workflowId);
    this.enterStep(step, 'running');
    const ids = runs.map((run) => run.workflowId);
    this.publish('flow.children.started', SYSTEM, { step: name, children: ids });
    await this.flush();
    const { changes } = options;
    if (!changes) {
      // Without changes nothing is withdrawn: every member gives its result.
      const results = await Promise.all(runs.map((run) => this.childOfSet(step, workflow, run, options)));
      this.finishStep(step, 'completed', 'flow.step.completed', SYSTEM, { children: ids });
      return results as T[];
    }
    const members = runs.map((run) => ({
      run,
      result: this.childOfSet(step, workflow, run, options, changes),
    }));
    let settled = 0;
    const settle = () => {
      settled++;
    };
    for (const member of members) void member.result.then(settle, settle);
    for (;;) {
      await condition(() => changes.pending() || settled === members.length);
      if (!changes.pending()) break;
      for (const run of changes.takeAdded()) {
        step.children.push({ flowId: run.workflowId, state: 'running', attention: null });
        this.status.activeChildren.push(run.workflowId);
        this.publish('flow.child.added', SYSTEM, { step: name, child: run.workflowId });
        const result = this.childOfSet(step, workflow, run, options, changes);
        void result.then(settle, settle);
        members.push({ run, result });
      }
      for (const workflowId of changes.takeWithdrawn()) {
        if (!members.some((member) => member.run.workflowId === workflowId)) continue;
        changes.withdrawn.add(workflowId);
        this.publish('flow.child.withdrawing', SYSTEM, { step: name, child: workflowId });
        await getExternalWorkflowHandle(workflowId).cancel();
      }
      await this.flush();
    }
    const results = await Promise.all(members.map((member) => member.result));
    this.finishStep(step, 'completed', 'flow.step.completed', SYSTEM, {
      children: members.map((member) => member.run.workflowId),
    });
    return results.filter((result): result is Awaited<T> => result !== WITHDRAWN) as T[];
  }

  private async childOfSet<A extends unknown[], T>(
    step: StepStatus,
    workflow: (...args: A) => Promise<T>,
    run: { workflowId: string; args: A },
    options: { manual?: (decision: DecisionFor<F>, workflowId: string) => T },
    changes?: ChildSetChanges<A>,
  ): Promise<T | typeof WITHDRAWN> {
    const child = step.children?.find((entry) => entry.flowId === run.workflowId);
    const settle = async (state: ChildStatus['state'], type: string, actor: Actor = SYSTEM) => {
      if (child) Object.assign(child, { state, attention: null });
      const done = step.children?.filter((entry) => TERMINAL_STATES.includes(entry.state)).length ?? 0;
      this.publish(type, actor, {
        step: step.name,
        child: run.workflowId,
        childState: state,
        done,
        of: step.children?.length ?? 0,
      });
      // The siblings go on: what this child came to shows now.
      await this.flush();
    };
    try {
      for (;;) {
        try {
          await this.flush();
          const result = await executeChild(workflow, { workflowId: run.workflowId, args: run.args });
          await settle('completed', 'flow.child.completed');
          return result;
        } catch (error) {
          // A child this set withdrew ends here; the parent's own cancellation goes on up.
          if (changes?.withdrawn.has(run.workflowId) && !CancellationScope.current().consideredCancelled) {
            await settle('cancelled', 'flow.child.withdrawn');
            return WITHDRAWN;
          }
          if (isCancellation(error)) throw error;
          if (child) Object.assign(child, { state: 'failed', attention: null });
          const manual = options.manual;
          const decision = await this.needsAttention(step, {
            reason: 'step_failed',
            error: `${run.workflowId}: ${describe(error)}`,
            options: manual ? ['retry', 'skip', 'fallback'] : ['retry'],
          });
          this.enterStep(step, 'running');
          if (!decision || decision.action === 'retry' || !manual) {
            if (child) child.state = 'running';
            continue;
          }
          await settle(
            decision.action === 'skip' ? 'cancelled' : 'completed',
            'flow.child.resolved',
            decision.actor,
          );
          return manual(decision, run.workflowId);
        }
      }
    } finally {
      this.forgetChild(run.workflowId);
    }
  }

  private forgetChild(workflowId: string): void {
    this.status.activeChildren = this.status.activeChildren.filter((id) => id !== workflowId);
  }

  /**
   * Runs the whole process: publishes its start and its end, and compensates when it is cancelled. A run that
   * will continue as new (a billing cycle) ends its cycle, not the flow: the flow stays running in between.
   */
  async run<T>(process: () => Promise<T>, options: { continuesAsNew?: boolean } = {}): Promise<T> {
    const steps = this.status.steps.map((s) => s.name);
    this.publish(this.continued ? 'flow.cycle.started' : 'flow.started', SYSTEM, { steps });
    try {
      const result = await process();
      this.status.currentStep = null;
      if (options.continuesAsNew) this.setState('running', 'flow.cycle.completed', SYSTEM, {});
      else this.setState('completed', 'flow.completed', SYSTEM, {});
      await this.flush();
      await condition(allHandlersFinished);
      return result;
    } catch (error) {
      if (isCancellation(error)) {
        await CancellationScope.nonCancellable(() => this.compensate());
      } else if (error instanceof TemporalFailure) {
        this.setState('failed', 'flow.failed', SYSTEM, { error: describe(error) });
        await this.flush();
      }
      // Any other error is a bug in the flow's code: it fails the workflow task, not the flow, and Temporal runs
      // the task again once a fix is deployed. Meanwhile the reconciler shows the flow as stuck.
      throw error;
    }
  }

  /** Registers what to undo if the flow is cancelled from here on (void the envelope, credit the invoice…). */
  onCancel(name: string, run: () => Promise<void>): void {
    this.compensations.push({ name, run });
  }

  /**
   * Runs one step: holds while paused, marks it current, runs it, and when it fails runs it again on the flow's
   * retry schedule (durable timers; the step shows `retrying` with the attempt, the error and the next attempt
   * time, and an operator may retry now, skip or fall back meanwhile). When the schedule runs out, the step waits
   * for an operator to retry it, skip it or complete it by hand.
   */
  async step<T>(
    name: StepOf<F>,
    run: (retry?: Retry<F>) => Promise<T>,
    options: StepOptions<T, F> = {},
  ): Promise<T> {
    let retry: Retry<F> | undefined;
    let failures = 0;
    for (;;) {
      await this.holdWhilePaused();
      const step = this.stepNamed(name);
      step.attempts++;
      step.startedAt ??= new Date().toISOString();
      step.nextAttemptAt = undefined;
      this.enterStep(step, 'running');
      this.publish('flow.step.started', SYSTEM, { step: name, attempt: step.attempts });
      await this.flush();
      let result: T;
      try {
        result = await run(retry);
      } catch (error) {
        if (isCancellation(error)) throw error;
        failures++;
        const manual = options.manual;
        const decision = await this.afterFailure(
          step,
          error,
          failures,
          manual ? ['skip', 'fallback'] : [],
          options.whenExhausted,
        );
        if (decision) failures = 0;
        if (!decision || decision.action === 'retry' || !manual) {
          retry = retryFor(decision);
          continue;
        }
        this.finishStep(
          step,
          decision.action === 'skip' ? 'skipped' : 'manual',
          'flow.step.resolved',
          decision.actor,
          { action: decision.action, note: decision.note },
        );
        return manual(decision);
      }
      const question = options.confirm?.(result);
      if (!question) {
        this.finishStep(step, 'completed', 'flow.step.completed', SYSTEM, {});
        return result;
      }
      const decision = await this.needsAttention(step, {
        reason: 'confirmation_needed',
        error: question,
        options: ['fallback', 'retry'],
      });
      if (decision?.action === 'fallback') {
        this.finishStep(step, 'manual', 'flow.step.resolved', decision.actor, {
          action: decision.action,
          note: decision.note,
        });
        return result;
      }
      retry = retryFor(decision);
    }
  }

  /**
   * Runs work that belongs to a step already under way (a new payment link while the payment is awaited) and
   * leaves the step as it is. A failure is retried on the flow's schedule like a step's; when that runs out, the
   * step needs attention until an operator retries it or, with `manual`, says it is done (`fallback`, an email
   * that did arrive): a failure here never fails the flow.
   */
  async within<T>(
    name: StepOf<F>,
    run: (retry?: Retry<F>) => Promise<T>,
    options: Pick<StepOptions<T, F>, 'manual'> = {},
  ): Promise<T> {
    let retry: Retry<F> | undefined;
    let failures = 0;
    for (;;) {
      await this.holdWhilePaused();
      await this.flush();
      try {
        return await run(retry);
      } catch (error) {
        if (isCancellation(error)) throw error;
        failures++;
        const manual = options.manual;
        const step = this.stepNamed(name);
        const state = step.state;
        const decision = await this.afterFailure(step, error, failures, manual ? ['fallback'] : []);
        this.enterStep(step, state);
        if (decision) failures = 0;
        if (manual && decision?.action === 'fallback') return manual(decision);
        retry = retryFor(decision);
      }
    }
  }

  /**
   * What follows a failed attempt: while the retry schedule lasts, the step shows `retrying` until its next
   * attempt is due (undefined) or an operator decides first; after that, it needs attention until one does.
   * Every failed attempt is one audit event.
   */
  private async afterFailure(
    step: StepStatus,
    error: unknown,
    failures: number,
    alternatives: DecisionOf<F>[],
    whenExhausted?: StepOptions<unknown, F>['whenExhausted'],
  ): Promise<DecisionFor<F> | undefined> {
    const message = describe(error);
    const { maximumAttempts, initialInterval, maximumInterval } = this.retrySettings;
    if (failures >= maximumAttempts || !worthRetrying(error)) {
      if (whenExhausted) await whenExhausted(message);
      return this.needsAttention(step, {
        reason: 'step_failed',
        error: message,
        options: ['retry', ...alternatives],
      });
    }
    const delay = Math.min(
      msToNumber(initialInterval as Duration) * 2 ** (failures - 1),
      msToNumber(maximumInterval as Duration),
    );
    const nextAttemptAt = new Date(Date.now() + delay).toISOString();
    step.nextAttemptAt = nextAttemptAt;
    const decision = await this.askOperator(
      step,
      {
        reason: 'retrying',
        error: message,
        options: ['retry', ...alternatives],
        attempt: failures,
        nextAttemptAt,
      },
      {
        state: 'retrying',
        forMs: delay,
        event: { type: 'flow.step.attempt_failed', payload: { of: maximumAttempts } },
      },
    );
    step.nextAttemptAt = undefined;
    return decision;
  }

  /**
   * Waits for something outside the flow (a signature, a payment) as a step of its own: reminds on the interval,
   * and at the deadline asks an operator, who may extend it or decide otherwise (returned to the caller).
   */
  async waitFor(
    name: StepOf<F>,
    until: () => boolean,
    options: WaitOptions<F> = {},
  ): Promise<WaitOutcome<F>> {
    await this.holdWhilePaused();
    const step = this.stepNamed(name);
    step.startedAt ??= new Date().toISOString();
    this.status.waitingFor = name;
    this.enterStep(step, 'waiting');
    this.publish('flow.waiting', SYSTEM, { step: name });

    const remindEvery = options.remindEvery === undefined ? undefined : msToNumber(options.remindEvery);
    const deadline = options.deadline;
    let deadlineAt =
      deadline === undefined
        ? undefined
        : typeof deadline === 'object'
          ? deadline.at
          : Date.now() + msToNumber(deadline);
    const reminderCap = Math.min(options.maxReminders ?? MAX_REMINDERS_PER_WAIT, MAX_REMINDERS_PER_WAIT);
    const schedule = options.remindAt ?? [];
    let reminders = schedule.filter((at) => at <= Date.now()).length;
    const nextScheduled = () => schedule[reminders];
    let nextReminderAt = remindEvery === undefined ? nextScheduled() : Date.now() + remindEvery;

    const heard = () => options.news?.() ?? false;
    while (!until()) {
      await this.flush();
      if (!this.status.paused && heard() && options.reread) {
        await options.reread();
        continue;
      }
      if (this.status.paused) {
        await condition(() => until() || !this.status.paused);
        // Reminders missed while paused are not sent in a burst after resuming.
        if (remindEvery !== undefined)
          nextReminderAt = reminders < reminderCap ? Date.now() + remindEvery : undefined;
        else {
          reminders = Math.max(reminders, schedule.filter((at) => at <= Date.now()).length);
          nextReminderAt = nextScheduled();
        }
        continue;
      }
      const wakeAt = Math.min(
        deadlineAt ?? Number.POSITIVE_INFINITY,
        nextReminderAt ?? Number.POSITIVE_INFINITY,
      );
      if (wakeAt === Number.POSITIVE_INFINITY) {
        await condition(() => until() || this.status.paused || heard());
        continue;
      }
      const met = await condition(
        () => until() || this.status.paused || heard(),
        Math.max(1, wakeAt - Date.now()),
      );
      if (met) continue;
      // A worker that wakes late finds a reminder and the deadline both due: the reminder, scheduled first, goes
      // out first (patched in: earlier runs escalated at once).
      const reminderDue =
        nextReminderAt !== undefined && Date.now() >= nextReminderAt && nextReminderAt <= (deadlineAt ?? 0);
      if (!reminderDue && deadlineAt !== undefined && Date.now() >= deadlineAt) {
        if (options.whenOverdue)
          await this.courtesy('overdue', name, () => options.whenOverdue?.(deadlineAt ?? 0));
        const decision = await this.needsAttention(
          step,
          {
            reason: 'deadline_passed',
            error: `${name}: the deadline passed`,
            options: options.onDeadline ?? ['extend'],
          },
          until,
          options.checkDecision,
        );
        if (!decision) break;
        if (decision.action !== 'extend') return { done: false, decision };
        deadlineAt = decision.extendUntil
          ? Date.parse(decision.extendUntil)
          : Date.now() + msToNumber((decision.extendBy ?? '1 day') as Duration);
        if (options.whenExtended) await options.whenExtended(deadlineAt, decision);
        this.enterStep(step, 'waiting');
        this.publish('flow.waiting', decision.actor, {
          step: name,
          extendedBy: decision.extendBy,
          extendedUntil: decision.extendUntil,
        });
        continue;
      }
      if (nextReminderAt !== undefined && Date.now() >= nextReminderAt) {
        reminders++;
        const reminder = reminders;
        await this.courtesy('reminder', name, () => options.remind?.(reminder), { reminder });
        nextReminderAt = remindEvery === undefined ? nextScheduled() : nextReminderAt + remindEvery;
        if (reminders >= reminderCap) nextReminderAt = undefined;
      }
    }
    this.status.waitingFor = null;
    this.finishStep(step, 'completed', 'flow.step.completed', SYSTEM, {});
    return { done: true };
  }

  /**
   * Runs a courtesy of a wait (a reminder, a notice that it is overdue): one that cannot be done is on record as
   * `flow.{kind}.failed`, and the wait and its deadline go on.
   */
  private async courtesy(
    kind: 'reminder' | 'overdue',
    stepName: string,
    run: () => Promise<void> | undefined,
    payload: Record<string, unknown> = {},
  ): Promise<void> {
    try {
      await run();
      this.publish(kind === 'reminder' ? 'flow.reminder.sent' : 'flow.overdue', SYSTEM, {
        step: stepName,
        ...payload,
      });
    } catch (error) {
      if (isCancellation(error)) throw error;
      const step = this.stepNamed(stepName);
      step.lastError = describe(error);
      this.publish(`flow.${kind}.failed`, SYSTEM, {
        step: stepName,
        ...payload,
        error: step.lastError,
      });
    }
  }

  /**
   * Puts the flow in front of an operator and waits for a decision among `options`. With `unless`, the wait also
   * ends (returning undefined) when that becomes true first, e.g. the customer signs while ops are deciding.
   */
  needsAttention(
    step: StepStatus,
    problem: Pick<Attention, 'reason' | 'error' | 'options'>,
    unless?: () => boolean,
    check?: WaitOptions<F>['checkDecision'],
  ): Promise<DecisionFor<F> | undefined> {
    return this.askOperator(step, problem, {
      state: 'needs_attention',
      unless,
      check,
      event: { type: 'flow.needs_attention', payload: {} },
    });
  }

  /**
   * Shows the problem and waits for a decision, for at most `forMs` when given (a retry falls due), or until
   * `unless` holds; returns the decision, or undefined when the wait ended without one.
   */
  private askOperator(
    step: StepStatus,
    problem: Pick<Attention, 'reason' | 'error' | 'options' | 'attempt' | 'nextAttemptAt'>,
    wait: AskOptions<F>,
  ): Promise<DecisionFor<F> | undefined> {
    return this.askingInTurn(() => this.askNow(step, problem, wait));
  }

  private async askNow(
    step: StepStatus,
    problem: Pick<Attention, 'reason' | 'error' | 'options' | 'attempt' | 'nextAttemptAt'>,
    wait: AskOptions<F>,
  ): Promise<DecisionFor<F> | undefined> {
    step.lastError = problem.error;
    this.status.attention = { step: step.name, since: new Date().toISOString(), ...problem };
    this.baseState = wait.state;
    this.enterStep(step, wait.state);
    this.publish(wait.event.type, SYSTEM, { step: step.name, ...problem, ...wait.event.payload });
    await this.flush();
    this.decision = undefined;
    this.decisionCheck = wait.check;
    const decided = () => this.decision !== undefined || (wait.unless?.() ?? false);
    await (wait.forMs === undefined ? condition(decided) : condition(decided, wait.forMs));
    this.decisionCheck = undefined;
    // Set by the resolveStep handler while we waited (TypeScript cannot see that across the await).
    const request = this.decision as ResolveRequest | undefined;
    this.decision = undefined;
    this.status.attention = null;
    this.baseState = 'running';
    if (!request) {
      this.enterStep(step, 'running');
      return undefined;
    }
    this.decisionsTaken++;
    const decision = { ...request, decisionId: `${workflowInfo().runId}/${this.decisionsTaken}` };
    step.resolvedBy = {
      actor: decision.actor,
      action: decision.action,
      note: decision.note,
      at: new Date().toISOString(),
    };
    this.enterStep(step, 'running');
    this.publish('flow.attention.resolved', decision.actor, {
      step: step.name,
      action: decision.action,
      note: decision.note,
      input: decision.input,
      decisionId: decision.decisionId,
    });
    // The validator let only this flow's decisions through (the API checked their input against its schemas).
    return decision as unknown as DecisionFor<F>;
  }

  /**
   * Publishes what changed now. The kernel publishes wherever the flow waits through it; a branch that runs beside
   * the steps (a project following its orders' news) calls this after a decision, so the decision is answered.
   */
  async publishNow(): Promise<void> {
    await this.flush();
  }

  /** The step by its name; the name must be one of the flow's declared steps. */
  stepNamed(name: string): StepStatus {
    const step = this.status.steps.find((s) => s.name === name);
    if (!step)
      throw new Error(
        `unknown step ${name}; declared steps: ${this.status.steps.map((s) => s.name).join(', ')}`,
      );
    return step;
  }

  /** The step under way (or the last one), one of the definition's. */
  get currentStep(): StepOf<F> | undefined {
    return (this.status.currentStep ?? undefined) as StepOf<F> | undefined;
  }

  private async holdWhilePaused(): Promise<void> {
    await condition(() => !this.status.paused);
  }

  private enterStep(step: StepStatus, state: StepState): void {
    step.state = state;
    this.status.currentStep = step.name;
    if (!isAskingOperator(this.baseState)) this.baseState = state === 'waiting' ? 'waiting' : 'running';
    this.refreshState();
  }

  private finishStep(
    step: StepStatus,
    state: StepState,
    eventType: string,
    actor: Actor,
    payload: Record<string, unknown>,
  ): void {
    this.markStep(step, state);
    this.baseState = 'running';
    this.refreshState();
    this.publish(eventType, actor, { step: step.name, ...payload });
  }

  /** Synchronous on purpose: state the flow decides on must never wait behind an await. */
  private markStep(step: StepStatus, state: StepState): void {
    step.state = state;
    step.endedAt = new Date().toISOString();
    this.status.progress.done = this.status.steps.filter((s) => DONE_STATES.includes(s.state)).length;
  }

  private setState(
    state: Exclude<FlowState, 'paused'>,
    eventType: string,
    actor: Actor,
    payload: Record<string, unknown>,
  ): void {
    this.baseState = state;
    this.status.paused = false;
    this.status.waitingFor = null;
    this.status.attention = null;
    this.refreshState();
    this.publish(eventType, actor, payload);
  }

  private refreshState(): void {
    this.status.state = this.status.paused ? 'paused' : this.baseState;
  }

  private async compensate(): Promise<void> {
    for (const compensation of [...this.compensations].reverse()) {
      await this.flush();
      await compensation.run();
      this.publish('flow.compensated', SYSTEM, { action: compensation.name });
    }
    this.setState('cancelled', 'flow.cancelled', SYSTEM, {});
    await this.flush();
  }

  private isFinished(): boolean {
    return TERMINAL_STATES.includes(this.status.state);
  }

  private validatePause(_request: PauseRequest): void {
    if (this.isFinished()) throw new Error(`the flow is ${this.status.state} and cannot be paused`);
    if (this.status.paused) throw new Error('the flow is already paused');
  }

  private async pause(request: PauseRequest): Promise<FlowStatus> {
    this.status.paused = true;
    this.refreshState();
    this.publish('flow.paused', request.actor, { reason: request.reason });
    await this.flush();
    return this.status;
  }

  private validateResume(): void {
    if (this.isFinished()) throw new Error(`the flow is ${this.status.state} and cannot be resumed`);
    if (!this.status.paused) throw new Error(`the flow is not paused (it is ${this.status.state})`);
  }

  private async resume(request: PauseRequest): Promise<FlowStatus> {
    this.status.paused = false;
    this.refreshState();
    // The step it goes back to: the status log reads it from the event (db/analytics/flowStatuses.ts).
    this.publish('flow.resumed', request.actor, {
      reason: request.reason,
      currentStep: this.status.currentStep,
    });
    await this.flush();
    return this.status;
  }

  private validateResolve(request: ResolveRequest): void {
    const attention = this.status.attention;
    if (!attention || this.decision !== undefined) {
      throw new Error(`the flow does not need attention (it is ${this.status.state})`);
    }
    if (attention.flowId && attention.flowId !== this.status.flowId) {
      throw new Error(`${attention.step} belongs to ${attention.flowId}; decide there`);
    }
    if (!attention.options.includes(request.action)) {
      throw new Error(
        `${request.action} does not apply to ${attention.step}; possible: ${attention.options.join(', ')}`,
      );
    }
    // The decision as the flow will take it; its id is given when it is taken.
    const refusal = this.decisionCheck?.({ ...request, decisionId: '' } as DecisionFor<F>);
    if (refusal) throw new Error(refusal);
    if (request.action === 'extend') {
      if (request.extendUntil) {
        if (!(Date.parse(request.extendUntil) > Date.now()))
          throw new Error(`extendUntil ${request.extendUntil} is not in the future`);
        return;
      }
      if (!request.extendBy) throw new Error('extend needs extendBy, e.g. "3 days", or extendUntil, a date');
      if (!(msToNumber(request.extendBy as Duration) > 0))
        throw new Error(`extendBy "${request.extendBy}" is not a duration`);
    }
  }

  private async resolve(request: ResolveRequest): Promise<FlowStatus> {
    this.decision = request;
    // Answer once the flow has acted on the decision (retried, extended, completed the step by hand), so the
    // caller sees the status that follows from it.
    const ticket = this.decisionsTaken + 1;
    // Not cancellable: a cancelled flow may still need a decision while it compensates (an interrupted email).
    await CancellationScope.nonCancellable(() => condition(() => this.decisionsSettled >= ticket));
    return this.status;
  }

  /**
   * Records one change: its audit event and the state it leaves. Nothing is written yet: the changes go out
   * together when the flow next waits ({@link flush}).
   */
  private publish(type: string, actor: Actor, payload: Record<string, unknown>): void {
    this.sequence++;
    const now = new Date().toISOString();
    this.status.updatedAt = now;
    this.unpublished.push({
      type,
      actor,
      payload,
      key: this.eventKey(type, payload),
      occurredAt: now,
      state: this.status.state,
      progress: { ...this.status.progress },
      decisionsTaken: this.decisionsTaken,
    });
  }

  /**
   * Writes the changes since the last publication, in one local activity: the flow calls it wherever it is about
   * to wait (an activity, a child, a person, a signal or a timer), so it publishes at most once per workflow task
   * and what users see is never behind what the flow waits on. Publications run one at a time, in order: the main
   * flow and a handler (pause, resume) publishing at once would otherwise race their local activities, and a
   * replay could order their commands differently from the run it replays.
   */
  private flush(): Promise<void> {
    return this.publishingInTurn(() => this.flushNow());
  }

  private async flushNow(): Promise<void> {
    const changes = this.unpublished;
    if (changes.length === 0) return;
    this.unpublished = [];
    const status: FlowStatus = JSON.parse(JSON.stringify(this.status));
    this.upsertChangedAttributes(status);
    setCurrentDetails(currentDetails(status));
    // Publishing is never cancelled: a flow cancelled mid-publish (from a handler, say) still records its state.
    await CancellationScope.nonCancellable(() =>
      publishFlowChanges({
        status,
        runId: workflowInfo().runId,
        sequence: this.sequence,
        events: changes.map(({ decisionsTaken: _, ...change }) => change),
        runStartedAt: workflowInfo().runStartTime.toISOString(),
        parent: this.parentToFollow(),
      }),
    );
    // A decision's record is written when the flow next waits, which is once it has acted on it (retried,
    // extended, completed the step by hand): the status written with it is the one that follows from it.
    for (const change of changes)
      this.decisionsSettled = Math.max(this.decisionsSettled, change.decisionsTaken);
  }

  /** Whose row this flow's publications also write its milestones on (a child's steps shown on its parent). */
  private parentToFollow(): FlowPublication['parent'] {
    const parent = workflowInfo().parent;
    if (!parent || Object.keys(this.milestones).length === 0) return undefined;
    return { flowId: parent.workflowId, runId: parent.runId, milestones: this.milestones };
  }

  /** Only what changed is upserted: each upsert is an event in the history and a write to visibility. */
  private upsertChangedAttributes(status: FlowStatus): void {
    const wanted = [
      { key: FlowStateAttribute, value: status.state },
      { key: FlowStep, value: status.currentStep ?? '' },
      { key: TenantId, value: status.tenantId },
      { key: BusinessKey, value: status.businessKey },
    ];
    if (this.attributes.size === 0) {
      // What the flow was started with (the API sets tenant and business key) needs no upsert.
      for (const { key } of wanted) {
        const value = workflowInfo().typedSearchAttributes.get(key);
        if (value !== undefined) this.attributes.set(key.name, value);
      }
    }
    const changed = wanted.filter(({ key, value }) => this.attributes.get(key.name) !== value);
    if (changed.length === 0) return;
    upsertSearchAttributes(changed);
    for (const { key, value } of changed) this.attributes.set(key.name, value);
  }

  private eventKey(type: string, payload: Record<string, unknown>): string {
    const kind = [type, payload.step, payload.child].filter((part) => typeof part === 'string').join('/');
    const count = (this.published.get(kind) ?? 0) + 1;
    this.published.set(kind, count);
    return `${kind}#${count}`;
  }

  /** Signals the flow that started this one, if any; a parent that has closed no longer needs to know. */
  async notifyParent<Args extends unknown[]>(signal: SignalDefinition<Args>, ...args: Args): Promise<void> {
    const parent = workflowInfo().parent;
    if (!parent) return;
    try {
      const parentFlow = getExternalWorkflowHandle(parent.workflowId, parent.runId);
      await CancellationScope.nonCancellable(() => parentFlow.signal(signal, ...args));
    } catch {
      // The parent has closed (cancelled, say); the child's own work goes on.
    }
  }
}

/**
 * Whether running the step again may help: not when the activity said it cannot (an email that may have gone
 * out, a configuration that is missing), which only a person can settle.
 */
function worthRetrying(error: unknown): boolean {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (!(cause instanceof ApplicationFailure)) return true;
  return !cause.nonRetryable && !NON_RETRYABLE_ERROR_TYPES.includes(cause.type ?? '');
}

function isAskingOperator(state: FlowState): boolean {
  return state === 'needs_attention' || state === 'retrying';
}

/** Runs tasks one at a time, in the order they were handed in, whether or not the earlier ones failed. */
function inTurn(): <T>(task: () => Promise<T>) => Promise<T> {
  let turn: Promise<void> = Promise.resolve();
  return async (task) => {
    const previous = turn;
    let done = () => {};
    turn = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await previous;
      return await task();
    } finally {
      done();
    }
  };
}

/** The attempt a decision asks for; none when the step's wait ended without one. */
function retryFor<F extends FlowDefinition>(decision: DecisionFor<F> | undefined): Retry<F> | undefined {
  return decision && { decisionId: decision.decisionId, input: (decision.input ?? {}) as Retry<F>['input'] };
}

/**
 * What the Temporal Web UI shows under "Current details": the same truth as the flows list. The first line fits
 * the header (state, step, why); the rest says what an operator needs to act.
 */
function currentDetails(status: FlowStatus): string {
  const { attention } = status;
  const why = attention
    ? `${attention.reason.replaceAll('_', ' ')}: ${attention.error}`
    : status.waitingFor
      ? `waiting for ${status.waitingFor}`
      : '';
  const headline = [
    `**${status.state}**`,
    status.currentStep ? `\`${status.currentStep}\`` : '',
    `${status.progress.done} of ${status.progress.total} done`,
    why.length > 100 ? `${why.slice(0, 99)}…` : why,
  ]
    .filter(Boolean)
    .join(' · ');
  const lines = [
    headline,
    attention?.attempt !== undefined
      ? `attempt ${attention.attempt} failed; next at ${attention.nextAttemptAt}`
      : '',
    attention ? `error: ${attention.error}` : '',
    attention ? `decisions: ${attention.options.join(', ') || 'none (fix and redeploy, or reset)'}` : '',
    attention?.flowId && attention.flowId !== status.flowId
      ? `decide in child flow \`${attention.flowId}\``
      : '',
  ];
  return lines.filter(Boolean).join('\n\n');
}
