import { defineSignal } from '@temporalio/workflow';
import { defineFlow } from './flowDefinition.js';
import type {
  ChangeDecisionInput,
  InstallationDateInput,
  QualifyInput,
  RiskInput,
} from './leadToInstall.schema.js';

/**
 * Lead to installation as the workflow and its callers know it: the life cycles, the steps, the decisions, the
 * news. Schemas: `leadToInstall.schema.ts`.
 */
export type {
  LeadToInstallInput,
  ProjectSettings,
  QualificationRules,
  SelectionLine,
  SiteAddress,
} from './leadToInstall.schema.js';

export const LEAD_STATES = ['NEW', 'QUALIFIED', 'WON', 'LOST'] as const;
export type LeadState = (typeof LEAD_STATES)[number];

export const PROJECT_STATES = [
  'DRAFT',
  'CONFIRMED',
  'SCHEDULED',
  'IN_PROGRESS',
  'DONE',
  'CLOSED',
  'CANCELLED',
] as const;
export type ProjectState = (typeof PROJECT_STATES)[number];

/** A selection version's life; a version replaced by an approved change request is SUPERSEDED. */
export const SELECTION_STATES = [
  'DRAFT',
  'LOCKED',
  'PRODUCED',
  'DELIVERED',
  'INSTALLED',
  'SUPERSEDED',
] as const;
export type SelectionState = (typeof SELECTION_STATES)[number];

const STEPS_BEFORE_ADVANCE = [
  'qualifyLead',
  'convertToProject',
  'contractGenerated',
  'contractSent',
  'contractSigned',
] as const;
const ADVANCE = ['advanceInvoiced', 'advancePaid'] as const;
const STEPS_AFTER_LOCK = [
  'producerOrders',
  'installationScheduled',
  'deliveryDueSoon',
  'installation',
  'finalInvoiced',
  'finalPaid',
] as const;

/**
 * The company's main process. The advance invoice comes after the signature, or (the tenant's setting) after the
 * selection is locked: the variant `advanceOnLock`. Decisions: a lead the rules cannot qualify (`qualify`,
 * `disqualify`); a change request after lock (`approveChange`, `rejectChange`); an installation date the goods
 * or the crews cannot keep (`moveInstallation`, or `acceptRisk` / `overrideCapacity` with a note); a problem at
 * installation (`moveInstallation`, or `continueInstallation` once it is solved).
 */
export const leadToInstallFlow = defineFlow<{
  qualify: QualifyInput;
  disqualify: QualifyInput;
  approveChange: ChangeDecisionInput;
  rejectChange: ChangeDecisionInput;
  moveInstallation: InstallationDateInput;
  acceptRisk: RiskInput;
  overrideCapacity: RiskInput;
  continueInstallation: RiskInput;
}>()({
  type: 'leadToInstall',
  idPrefix: 'lead',
  steps: [...STEPS_BEFORE_ADVANCE, ...ADVANCE, 'selectionLocked', ...STEPS_AFTER_LOCK],
  variants: { advanceOnLock: [...STEPS_BEFORE_ADVANCE, 'selectionLocked', ...ADVANCE, ...STEPS_AFTER_LOCK] },
  decisions: [
    'qualify',
    'disqualify',
    'approveChange',
    'rejectChange',
    'moveInstallation',
    'acceptRisk',
    'overrideCapacity',
    'continueInstallation',
  ],
});

export const leadFlowId = leadToInstallFlow.flowId;

/** The invoices of a project: one of each kind, whatever runs twice. `~` is never part of a business id. */
export const projectInvoiceKey = (projectKey: string, kind: 'advance' | 'final') => `${projectKey}~${kind}`;

/**
 * A supplier order of a project: one per producer and selection version, an order id like any other (the
 * warehouse books it in by that id), so at most 64 characters.
 */
export const producerOrderKey = (projectKey: string, supplierCode: string, version: number) => {
  const key = `${projectKey}.${supplierCode}.v${version}`;
  if (key.length <= 64) return key;
  const room = 64 - `..v${version}`.length;
  return `${projectKey.slice(0, Math.ceil(room / 2))}.${supplierCode.slice(0, Math.floor(room / 2))}.v${version}`;
};

/**
 * News about a lead or its project, from the API (a conversion, the customer's lock, a crew's report…): ids and
 * the kind only. The flow reads the records before acting on it.
 */
export interface ProjectNews {
  kind:
    | 'leadConverted'
    | 'leadLost'
    | 'selectionLocked'
    | 'changeRequested'
    | 'linkRequested'
    | 'jobStarted'
    | 'jobCompleted'
    | 'problemReported';
  /** The request or record the news is about, when it has one. */
  id?: string;
}
export const projectNews = defineSignal<[ProjectNews]>('projectNews');

/** A lead as its flow reads it. */
export interface LeadFacts {
  state: LeadState;
  lostReason: string | null;
  project: { projectId: string; projectKey: string } | null;
}

/** A project as its flow reads it, after news. */
export interface ProjectFacts {
  state: ProjectState;
  /** The selection in force (the newest version that is not a draft, else the draft). */
  selection: { selectionId: string; version: number; state: SelectionState; total: number | null };
  openChangeRequest: { requestId: string; reason: string } | null;
  /** How many fresh configurator links the customer asked for (an expired link opened). */
  linkRequests: number;
  installation: { at: string; crewId: string; tentative: boolean } | null;
  problem: string | null;
}

/** A locked selection's lines for one producer, to order. */
export interface ProducerOrder {
  orderKey: string;
  supplierId: string;
  supplierCode: string;
}

export interface LeadToInstallResult {
  leadKey: string;
  outcome: 'closed' | 'lost';
  projectKey?: string;
  /** How many producers supplied it. */
  orders?: number;
  invoices: string[];
}
