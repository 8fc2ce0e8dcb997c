import { z } from 'zod';
import { SigningSettings } from './contract.schema.js';
import { boundedDuration, RetrySettings } from './durations.js';
import { type DecisionSchemas, EmailRetryInput, NoInput } from './flow.schema.js';
import { PaymentSettings } from './invoice.schema.js';
import { BusinessId, Currency, ProposalLines } from './proposal.js';

/** The schemas of lead to installation, for the API and activities; workflows use `leadToInstall.ts`. */

export const SiteAddress = z.object({
  street: z.string().trim().min(1).max(200),
  postcode: z.string().trim().min(1).max(20),
  city: z.string().trim().min(1).max(100),
  country: z.string().regex(/^[A-Z]{2}$/, { error: 'must be an ISO 3166 code such as DE' }),
});
export type SiteAddress = z.infer<typeof SiteAddress>;

export const LeadCustomer = z.object({
  name: z.string().trim().min(1).max(200),
  email: z.email(),
  phone: z
    .string()
    .regex(/^\+?[0-9 ()-]{5,30}$/, { error: 'must be a phone number' })
    .optional(),
});
export type LeadCustomer = z.infer<typeof LeadCustomer>;

export const LeadSource = z.enum(['architect', 'website', 'referral', 'phone', 'event', 'other']);

/** A tenant's rules for a lead that qualifies by itself; one that does not waits for a coordinator. */
export const QualificationRules = z.object({
  /** Postcode prefixes of the service area; empty: everywhere. */
  servicePostcodes: z.array(z.string().trim().min(1).max(20)).max(1000).default([]),
  /** Countries served (ISO 3166); empty: any. */
  serviceCountries: z
    .array(z.string().regex(/^[A-Z]{2}$/))
    .max(300)
    .default([]),
  minSystemKwp: z.number().positive().max(100_000).optional(),
  requiredFields: z.array(z.enum(['phone', 'systemSizeKwp', 'notes'])).default(['phone']),
});
export type QualificationRules = z.infer<typeof QualificationRules>;

/** A tenant's settings for its projects: read when a lead's flow starts, so each flow keeps its own. */
export const ProjectSettings = z.object({
  qualification: QualificationRules.prefault({}),
  /** The lead's owner is reminded when it is not converted within this, and again each time it passes. */
  followUpAfter: boundedDuration('1 second', '365 days').prefault('7 days'),
  advance: z
    .object({
      percent: z.number().int().min(0).max(100).default(30),
      after: z.enum(['contract_signed', 'selection_locked']).default('contract_signed'),
    })
    .prefault({}),
  configurator: z
    .object({
      /** A configurator link works this long; opening it later sends a fresh one to the customer. */
      linkValidFor: boundedDuration('1 second', '90 days').prefault('3 days'),
      remindEvery: boundedDuration('1 hour', '365 days').prefault('2 days'),
      /** Without a lock by then, the project needs a coordinator. */
      deadline: boundedDuration('1 second', '365 days').prefault('21 days'),
    })
    .prefault({}),
  /** Between the last producer's promised delivery and the installation. */
  deliveryMargin: boundedDuration('1 second', '90 days').prefault('2 days'),
  /** How long before the installation the customer gets the checklist and the crew its job sheet. */
  dueSoonBefore: boundedDuration('1 second', '90 days').prefault('3 days'),
  signing: SigningSettings.prefault({}),
  payment: PaymentSettings.prefault({}),
  retry: RetrySettings.prefault({}),
});
export type ProjectSettings = z.infer<typeof ProjectSettings>;

/** What an architect or staff send to register a lead. */
export const NewLead = z.object({
  /** The lead's id in the sender's own records: registering it again finds the first. */
  leadId: BusinessId,
  source: LeadSource,
  customer: LeadCustomer,
  site: SiteAddress,
  systemSizeKwp: z.number().positive().max(100_000).optional(),
  /** Staff name the architect who brought it; an architect's key is that architect. */
  architectId: z.uuid().optional(),
  notes: z.string().trim().max(5_000).optional(),
});
export type NewLead = z.infer<typeof NewLead>;

/** A coordinator wins a qualified lead: the project's contract, as a proposal. */
export const ConvertLead = z.object({
  title: z.string().trim().min(1).max(200),
  currency: Currency,
  lines: ProposalLines,
});
export type ConvertLead = z.infer<typeof ConvertLead>;

export const LoseLead = z.object({ reason: z.string().trim().min(1).max(1_000) });

export const SelectionLine = z.object({
  sku: z.string().trim().min(1).max(64),
  quantity: z.number().int().min(0).max(100_000),
});
export type SelectionLine = z.infer<typeof SelectionLine>;

export const SelectionLines = z
  .array(SelectionLine)
  .max(200)
  .refine((lines) => new Set(lines.map((line) => line.sku)).size === lines.length, {
    error: 'each sku appears once',
  });

export const ChangeRequest = z.object({
  lines: SelectionLines.refine((lines) => lines.some((line) => line.quantity > 0), {
    error: 'a selection has at least one item',
  }),
  reason: z.string().trim().min(1).max(1_000),
});

export const CompleteInstallation = z.object({
  /** Each item of the job's checklist, done or not. */
  checklist: z.record(z.string().min(1).max(100), z.boolean()),
  notes: z.string().trim().max(5_000).optional(),
});
export const ReportProblem = z.object({ description: z.string().trim().min(1).max(2_000) });

export const QualifyInput = NoInput;
export type QualifyInput = z.infer<typeof QualifyInput>;
export const ChangeDecisionInput = NoInput;
export type ChangeDecisionInput = z.infer<typeof ChangeDecisionInput>;
export const RiskInput = NoInput;
export type RiskInput = z.infer<typeof RiskInput>;
export const InstallationDateInput = z.strictObject({
  installAt: z.iso.datetime({ offset: true }).describe('The new installation date and time'),
});
export type InstallationDateInput = z.infer<typeof InstallationDateInput>;

export const leadToInstallDecisions = {
  retry: EmailRetryInput,
  qualify: QualifyInput,
  disqualify: QualifyInput,
  approveChange: ChangeDecisionInput,
  rejectChange: ChangeDecisionInput,
  moveInstallation: InstallationDateInput,
  acceptRisk: RiskInput,
  overrideCapacity: RiskInput,
  continueInstallation: RiskInput,
} satisfies DecisionSchemas;

export const LeadToInstallInput = z.object({
  tenantId: z.uuid(),
  tenantSlug: z.string(),
  leadId: z.uuid(),
  leadKey: BusinessId,
  customer: LeadCustomer,
  settings: ProjectSettings,
});
export type LeadToInstallInput = z.infer<typeof LeadToInstallInput>;
