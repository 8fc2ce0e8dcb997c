import type { FlowChanges, FlowPublication } from '../../domain/flow.js';

/** The activities the kernel itself calls; implemented in activities/flows.ts. */
export interface KernelActivities {
  publishFlowChanges(changes: FlowChanges): Promise<void>;
  /** Frozen builds' flows still publish one change at a time. */
  publishFlow(publication: FlowPublication): Promise<void>;
}
