export type { FlowOptions, Retry, StepOptions, WaitOptions, WaitOutcome } from './flow.js';
export { ChildSetChanges, describe, Flow, resendDecision } from './flow.js';
