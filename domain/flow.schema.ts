import { z } from 'zod';

/**
 * The schemas of what every flow shares (DESIGN.md §3): its states, its status, and the requests staff make of it.
 * The API and activities validate with them; workflow code takes only their types (`import type`), so zod stays
 * out of the workflow bundle. The definitions workflows use at run time are in `flow.ts`.
 */

/**
 * `stuck`: Temporal cannot run the flow's code (its workflow task keeps failing: a bug, or a change the code cannot
 * replay); `terminated`: closed in Temporal outside Flowdesk (terminated or timed out), without compensation.
 * Both are found by the worker's reconciler, not published by the flow.
 */
export const FlowState = z.enum([
  'running',
  'retrying',
  'waiting',
  'paused',
  'needs_attention',
  'stuck',
  'completed',
  'cancelled',
  'failed',
  'terminated',
]);
export type FlowState = z.infer<typeof FlowState>;

/** `manual`: an operator completed the step by hand (fallback); `skipped`: an operator chose to go on without it. */
export const StepState = z.enum([
  'pending',
  'running',
  'retrying',
  'waiting',
  'completed',
  'needs_attention',
  'skipped',
  'manual',
]);
export type StepState = z.infer<typeof StepState>;

export const Actor = z.object({
  type: z.enum(['system', 'user', 'customer', 'webhook']),
  id: z.string(),
  name: z.string().optional(),
});
export type Actor = z.infer<typeof Actor>;

/**
 * What an operator decides about a flow that needs attention: one of the kernel's decisions or one its flow type
 * declares (`defineFlow`). Which ones apply now is listed in `attention.options`.
 */
export const Resolution = z.string().min(1).max(50);
export type Resolution = z.infer<typeof Resolution>;

/** The input of a decision that takes none. */
export const NoInput = z.strictObject({});
/** Retrying a step that emails: `resend` sends again what an interrupted attempt may have delivered, once. */
export const EmailRetryInput = z.strictObject({
  resend: z
    .boolean()
    .optional()
    .describe(
      'Send the email again although an interrupted attempt may have delivered it (authorises one attempt)',
    ),
});
export type EmailRetryInput = z.infer<typeof EmailRetryInput>;

/**
 * How the API checks each decision a flow type takes beyond skip, fallback and extend (which carry no input): the
 * schema of its input, or the route that takes it instead (one that looks up what the decision needs).
 */
export type DecisionSchemas = Record<string, z.ZodType | { route: string }>;

export const ResolvedBy = z.object({
  actor: Actor,
  action: Resolution,
  note: z.string().optional(),
  at: z.string(),
});

/** One child flow of a step that runs several at once, as the parent last heard of it. */
export const ChildStatus = z.object({
  flowId: z.string(),
  state: FlowState,
  /** Why it needs a person, when it does: decide on the child itself. */
  attention: z.object({ reason: z.string(), error: z.string() }).nullable(),
});
export type ChildStatus = z.infer<typeof ChildStatus>;

export const StepStatus = z.object({
  name: z.string(),
  state: StepState,
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  attempts: z.number().int(),
  lastError: z.string().optional(),
  /** While the step retries: when the kernel runs it next. */
  nextAttemptAt: z.string().optional(),
  resolvedBy: ResolvedBy.optional(),
  /** A step that runs child flows at once: each of them; it is done when all are ("k of n"). */
  children: z.array(ChildStatus).optional(),
  /** The child flow doing this step now: its publications write the step's state here. */
  delegatedTo: z.string().optional(),
});
export type StepStatus = z.infer<typeof StepStatus>;

export const Attention = z.object({
  step: z.string(),
  /** `retrying`: the step failed and runs again at `nextAttemptAt`; an operator may act before then. */
  reason: z.enum([
    'step_failed',
    'retrying',
    'deadline_passed',
    'declined',
    'confirmation_needed',
    'workflow_task_failing',
    'activity_paused',
    // A project's own questions: a lead the rules could not qualify, a change to a locked selection, goods late
    // for the installation date, a slot the crews cannot keep, a problem at the installation.
    'qualification_needed',
    'change_requested',
    'installation_at_risk',
    'scheduling_conflict',
    'installation_problem',
    'courier_exception',
  ]),
  error: z.string(),
  since: z.string(),
  options: z.array(Resolution),
  /** While retrying: the failed attempts so far, and when the next one runs. */
  attempt: z.number().int().optional(),
  nextAttemptAt: z.string().optional(),
  /** The flow the decision goes to, when it is a child flow's step (the API forwards it there). */
  flowId: z.string().optional(),
});
export type Attention = z.infer<typeof Attention>;

export const FlowStatus = z.object({
  flowId: z.string(),
  flowType: z.string(),
  businessKey: z.string(),
  tenantId: z.string(),
  state: FlowState,
  currentStep: z.string().nullable(),
  steps: z.array(StepStatus),
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
  waitingFor: z.string().nullable(),
  attention: Attention.nullable(),
  paused: z.boolean(),
  /** The child flows doing the current part of the work; pause and resume reach them too. */
  activeChildren: z.array(z.string()),
  /** The flow that started this one, and the flow at the top (a project, a proposal); null for a top flow. */
  parentFlowId: z.string().nullable(),
  rootFlowId: z.string().nullable(),
  startedAt: z.string(),
  updatedAt: z.string(),
});
export type FlowStatus = z.infer<typeof FlowStatus>;

export const PauseRequest = z.object({ actor: Actor, reason: z.string().max(500).optional() });
export type PauseRequest = z.infer<typeof PauseRequest>;

export const ResolveRequest = z.object({
  actor: Actor,
  action: Resolution,
  note: z.string().max(2000).optional(),
  /** What the decision carries, as its flow type's schema for the action says (`resend` for a retry of an email). */
  input: z.record(z.string(), z.unknown()).optional(),
  /** For `extend`: how much longer to wait, e.g. "3 days"… */
  extendBy: z.string().optional(),
  /** …or until when (ISO 8601), e.g. the new date a supplier promised. */
  extendUntil: z.iso.datetime({ offset: true }).optional(),
});
export type ResolveRequest = z.infer<typeof ResolveRequest>;
