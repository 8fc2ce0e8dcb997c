import type { z } from '@hono/zod-openapi';
import { automationStepFlow } from '../domain/automation.js';
import { automationStepDecisions } from '../domain/automation.schema.js';
import { contractSigningFlow } from '../domain/contract.js';
import { contractSigningDecisions } from '../domain/contract.schema.js';
import { type DecisionSchemas, NoInput } from '../domain/flow.schema.js';
import { type FlowDefinition, KERNEL_DECISIONS } from '../domain/flowDefinition.js';
import { invoicePaymentFlow } from '../domain/invoice.js';
import { invoicePaymentDecisions } from '../domain/invoice.schema.js';
import { leadToInstallFlow } from '../domain/leadToInstall.js';
import { leadToInstallDecisions } from '../domain/leadToInstall.schema.js';
import { orderFulfillmentFlow } from '../domain/order.js';
import { orderFulfillmentDecisions } from '../domain/order.schema.js';
import { proposalToPaymentFlow } from '../domain/proposalToPayment.js';
import { proposalToPaymentDecisions } from '../domain/proposalToPayment.schema.js';
import { supplierOrderFlow } from '../domain/supplierOrder.js';
import { supplierOrderDecisions } from '../domain/supplierOrder.schema.js';

interface FlowType {
  definition: FlowDefinition;
  decisions: DecisionSchemas;
}

/** Every flow type the API starts and decides about, from its definition and the schemas of its decisions. */
export const FLOW_TYPES: readonly FlowType[] = [
  { definition: proposalToPaymentFlow, decisions: proposalToPaymentDecisions },
  { definition: contractSigningFlow, decisions: contractSigningDecisions },
  { definition: invoicePaymentFlow, decisions: invoicePaymentDecisions },
  { definition: supplierOrderFlow, decisions: supplierOrderDecisions },
  { definition: leadToInstallFlow, decisions: leadToInstallDecisions },
  { definition: automationStepFlow, decisions: automationStepDecisions },
  { definition: orderFulfillmentFlow, decisions: orderFulfillmentDecisions },
];

/** Every decision name any flow takes: the resolve route's `action`, in the API document. */
export const DECISION_NAMES = [
  ...new Set([...KERNEL_DECISIONS, ...FLOW_TYPES.flatMap((type) => type.definition.decisions)]),
] as [string, ...string[]];

/** The resolve route's description: which decisions each flow type takes. */
export const DECISIONS_BY_TYPE = FLOW_TYPES.map(
  ({ definition }) => `\`${definition.type}\`: ${[...KERNEL_DECISIONS, ...definition.decisions].join(', ')}`,
).join('; ');

export type DecisionCheck = { ok: true } | { ok: false; field: string; message: string };

/**
 * Checks a decision against its flow type before anything is sent to the flow: the action must be one the type
 * takes, and its input must match the action's schema. The flow itself then checks whether it fits now.
 */
export function checkDecision(
  flowType: string,
  decision: { action: string; input?: Record<string, unknown>; note?: string },
): DecisionCheck {
  // A type declared nowhere here takes the kernel's decisions, with no input.
  const type = FLOW_TYPES.find((candidate) => candidate.definition.type === flowType);
  const taken = [...KERNEL_DECISIONS, ...(type?.definition.decisions ?? [])] as string[];
  if (!taken.includes(decision.action)) {
    return { ok: false, field: 'body.action', message: `${flowType} takes ${taken.join(', ')}` };
  }
  // Going on without the step, or doing it by hand, is on record with why.
  if ((decision.action === 'skip' || decision.action === 'fallback') && !decision.note?.trim()) {
    return { ok: false, field: 'body.note', message: `${decision.action} needs a note saying why` };
  }
  const schema: z.ZodType | { route: string } = type?.decisions[decision.action] ?? NoInput;
  if ('route' in schema) {
    return { ok: false, field: 'body.action', message: `${decision.action} goes through ${schema.route}` };
  }
  const parsed = schema.safeParse(decision.input ?? {});
  if (parsed.success) return { ok: true };
  const issue = parsed.error.issues[0];
  const path = issue?.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : (issue?.path ?? []);
  return {
    ok: false,
    field: ['body.input', ...path.map(String)].join('.'),
    message:
      issue?.code === 'unrecognized_keys'
        ? `${decision.action} takes no such input`
        : (issue?.message ?? 'invalid'),
  };
}
