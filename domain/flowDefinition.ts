import type { ResolveRequest } from './flow.schema.js';

/**
 * The decisions the kernel takes for every flow: run a failing step again now, go on without it, say it was done
 * by hand, wait longer. Pause, resume and cancel are controls of their own.
 */
export const KERNEL_DECISIONS = ['retry', 'skip', 'fallback', 'extend'] as const;
export type KernelDecision = (typeof KERNEL_DECISIONS)[number];

/**
 * A process declared once (DESIGN.md §3), in the words of the business: its type (the workflow's name), the steps
 * it shows, the decisions it takes beyond the kernel's own, and its id from the business key. `Inputs` types what
 * each decision carries; the schemas that check them at the API live in the flow's `x.schema.ts`.
 */
export interface FlowDefinition<
  Type extends string = string,
  Step extends string = string,
  Decision extends string = string,
  Inputs extends DecisionInputs = DecisionInputs,
> {
  readonly type: Type;
  readonly steps: readonly Step[];
  /** Other step lists a run may show instead (a later billing cycle shows only its own three). */
  readonly variants: Readonly<Record<string, readonly Step[]>>;
  readonly decisions: readonly Decision[];
  /** "contract:{tenant}:{contractId}": one flow per business key and tenant. */
  flowId(tenantSlug: string, businessKey: string): string;
  /** Types only, never set: what each decision's `input` holds. */
  readonly inputs?: Inputs;
}

export type DecisionInputs = Partial<Record<string, object>>;

/** Declares a flow: `defineFlow<Inputs>()({ type, steps, variants, decisions, idPrefix })`. */
export function defineFlow<Inputs extends DecisionInputs = Record<never, object>>() {
  return <
    const Type extends string,
    const Step extends string,
    const Decision extends string = never,
  >(definition: {
    type: Type;
    steps: readonly Step[];
    variants?: Record<string, readonly Step[]>;
    decisions?: readonly Decision[];
    idPrefix: string;
  }): FlowDefinition<Type, Step, Decision, Inputs> => ({
    type: definition.type,
    steps: definition.steps,
    variants: definition.variants ?? {},
    decisions: definition.decisions ?? [],
    flowId: (tenantSlug, businessKey) => `${definition.idPrefix}:${tenantSlug}:${businessKey}`,
  });
}

export type StepOf<F> = F extends FlowDefinition<string, infer Step, string, DecisionInputs> ? Step : never;
export type DecisionOf<F> =
  | KernelDecision
  | (F extends FlowDefinition<string, string, infer Decision, DecisionInputs> ? Decision : never);
type InputsOf<F> = F extends FlowDefinition<string, string, string, infer Inputs> ? Inputs : never;
export type InputOf<F, Action extends string> = Action extends keyof InputsOf<F>
  ? NonNullable<InputsOf<F>[Action]>
  : Record<string, never>;

/** An operator's decision as a flow takes it: one of its decisions, with an id no other decision has. */
export type DecisionFor<F> = Omit<ResolveRequest, 'action' | 'input'> & {
  action: DecisionOf<F>;
  /** As the schema of its action has it (the API checked it before sending). */
  input?: NonNullable<InputsOf<F>[keyof InputsOf<F>]>;
  decisionId: string;
};
