import type { FlowPublication } from '../../domain/flow.js';

/** The activities the kernel itself calls; implemented in activities/flows.ts. */
export interface KernelActivities {
  publishFlow(publication: FlowPublication): Promise<void>;
}
