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

/** What an operator may decide about a flow that needs attention. Which ones apply is listed in `attention.options`. */
export const Resolution = z.enum(['retry', 'skip', 'fallback', 'extend', 'resend', 'reorder']);
export type Resolution = z.infer<typeof Resolution>;

export const ResolvedBy = z.object({
  actor: Actor,
  action: Resolution,
  note: z.string().optional(),
  at: z.string(),
});

export const StepStatus = z.object({
  name: z.string(),
  state: StepState,
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  attempts: z.number().int(),
  lastError: z.string().optional(),
  resolvedBy: ResolvedBy.optional(),
});
export type StepStatus = z.infer<typeof StepStatus>;

export const Attention = z.object({
  step: z.string(),
  reason: z.enum([
    'step_failed',
    'deadline_passed',
    'declined',
    'confirmation_needed',
    'workflow_task_failing',
  ]),
  error: z.string(),
  since: z.string(),
  options: z.array(Resolution),
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
  /** The child flow doing the current part of the work, if any; pause and resume reach it too. */
  activeChild: z.string().nullable(),
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
  /** For `retry`: corrected input for the step, merged over the original. */
  input: z.record(z.string(), z.unknown()).optional(),
  /** For `extend`: how much longer to wait, e.g. "3 days"… */
  extendBy: z.string().optional(),
  /** …or until when (ISO 8601), e.g. the new date a supplier promised. */
  extendUntil: z.iso.datetime({ offset: true }).optional(),
});
export type ResolveRequest = z.infer<typeof ResolveRequest>;
