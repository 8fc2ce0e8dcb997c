export type { FlowOptions, Retry, StepOptions, WaitOptions, WaitOutcome } from './flow.js';
export { describe, Flow, resendDecision } from './flow.js';
