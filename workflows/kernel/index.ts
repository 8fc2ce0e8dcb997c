export type { Decision, FlowDefinition, Retry, StepOptions, WaitOptions, WaitOutcome } from './flow.js';
export { describe, Flow, resendDecision } from './flow.js';
