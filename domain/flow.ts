import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Actor, FlowState, FlowStatus, PauseRequest, ResolveRequest } from './flow.schema.js';

/**
 * The vocabulary every flow shares (DESIGN.md §3): its terminal states, the system actor, and the controls staff
 * use on it, defined once and imported by the API (client side) and the flow kernel (workflow side). Nothing
 * here pulls zod into the workflow bundle: the types come from `flow.schema.ts` as types only.
 */

export type {
  Actor,
  Attention,
  ChildStatus,
  FlowState,
  FlowStatus,
  PauseRequest,
  Resolution,
  ResolveRequest,
  StepState,
  StepStatus,
} from './flow.schema.js';

export const TERMINAL_STATES: readonly FlowState[] = ['completed', 'cancelled', 'failed', 'terminated'];

export const SYSTEM: Actor = { type: 'system', id: 'flowdesk' };

export const flowStatusQuery = defineQuery<FlowStatus>('flowStatus');

export const pauseFlow = defineUpdate<FlowStatus, [PauseRequest]>('pauseFlow');
export const resumeFlow = defineUpdate<FlowStatus, [PauseRequest]>('resumeFlow');
export const resolveStep = defineUpdate<FlowStatus, [ResolveRequest]>('resolveStep');

/** One published change of a flow: the row users see and the audit event, written together and idempotently. */
export interface FlowEvent {
  type: string;
  actor: Actor;
  payload: Record<string, unknown>;
}

/**
 * The changes of a flow since its last publication, written in one transaction: the row as it is now, and one
 * audit event per change, each with the state and progress it left. A flow publishes at most once per workflow
 * task, when it is about to wait (for an activity, a child, a person, a signal or a timer).
 */
export interface FlowChanges {
  status: FlowStatus;
  runId: string;
  /** The last change's sequence: the flows row never goes back to a lower one within a run. */
  sequence: number;
  events: FlowChange[];
  runStartedAt?: string;
  parent?: FlowPublication['parent'];
}

export interface FlowChange extends FlowEvent {
  /** Names the event within its run (its type, step and count), as in {@link FlowPublication.eventKey}. */
  key: string;
  occurredAt: string;
  state: FlowState;
  progress: { done: number; total: number };
}

/** One change of a flow, as builds before flowdesk-3 publish it (one local activity per change). */
export interface FlowPublication {
  status: FlowStatus;
  runId: string;
  /** Increases with every publication of the flow; the flows row never goes back to a lower one. */
  sequence: number;
  /**
   * Names the event within its run: its type, its step and how many such events came before. Unlike the
   * sequence, it stays the same when a workflow task is retried with more history than the attempt that died
   * (a late signal handled first shifts every sequence number after it, and the event would be written twice).
   * Absent from publications of workers that predate it.
   */
  eventKey?: string;
  event: FlowEvent;
  occurredAt: string;
  /**
   * When the publishing run started: a newer run (a reset's) replaces the row of an older one whatever their
   * sequences. Absent from publications of workers that predate it.
   */
  runStartedAt?: string;
  /**
   * A child flow's parent, with the child's steps that are the parent's too (child step → parent step): the same
   * transaction writes them on the parent's row, with the parent's milestone events.
   */
  parent?: { flowId: string; runId: string; milestones: Record<string, string> };
}
