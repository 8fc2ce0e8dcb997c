export type { FlowDefinition, StepOptions, WaitOptions, WaitOutcome } from './flow.js';
export { describe, Flow } from './flow.js';
