export type { FlowDefinition, StepOptions, WaitOptions, WaitOutcome } from './flow.js';
export { Flow } from './flow.js';
