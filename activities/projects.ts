import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import { decideQualification, qualifyByRules, readLead } from '../db/leads.js';
import { advanceSelection, decideChange } from '../db/panelSelections.js';
import {
  cancelProject,
  closeProject,
  confirmInstallation,
  confirmProject,
  lockedLines,
  moveInstallation,
  proposeInstallation,
  readProject,
  solveProblem,
} from '../db/projects.js';
import { createSupplierOrderRecords, supplierProfile } from '../db/supplierOrders.js';
import type { PricedLine } from '../domain/catalogue.schema.js';
import { type Actor, SYSTEM } from '../domain/flow.js';
import { producerOrderKey, projectInvoiceKey } from '../domain/leadToInstall.js';
import type { QualificationRules } from '../domain/leadToInstall.schema.js';
import { formatMoney } from '../domain/money.js';
import type { Proposal, ProposalLine } from '../domain/proposal.js';
import type { SupplierProfile } from '../domain/supplier.js';
import { supplierOrderFlowId } from '../domain/supplierOrder.js';
import { expiringUrl } from '../integrations/links/expiringLinks.js';
import { type EmailDeps, sendEmail } from './email.js';

export interface ProjectDeps extends EmailDeps {
  publicUrl: string;
  signingSecret?: string;
  companyName: string;
  /** Where notices go when a lead has no architect to tell. */
  opsEmail: string;
}

export interface ProjectRef {
  tenantId: string;
  tenantSlug: string;
  flowId: string;
  projectId: string;
}

/** A producer's share of the locked selection, as a supplier order for the flow to run. */
export interface ProducerOrderPlan {
  workflowId: string;
  orderKey: string;
  supplier: SupplierProfile;
  lines: { sku: string; description: string; quantity: number }[];
  deliverTo: string;
}

/** How an approved change moves the orders: children to withdraw, orders to add, goods to send back. */
export interface OrderAdjustment {
  withdraw: string[];
  add: ProducerOrderPlan[];
  returns: { sku: string; quantity: number }[];
}

/** A paid invoice of a cancelled project, as the invoice activities credit it. */
export interface PaidProjectInvoice {
  tenantId: string;
  flowId: string;
  title: string;
  customer: { name: string; email: string };
  invoice: { invoiceId: string; number: string; total: number; currency: string; dueAt: string };
}

/** What the contract of a project says, for its signing flow. */
export interface ContractTerms {
  projectKey: string;
  proposal: Proposal;
}

async function projectContext(db: Db, tenantId: string, projectId: string) {
  return db
    .selectFrom('projects')
    .innerJoin('leads', 'leads.id', 'projects.lead_id')
    .leftJoin('architects', 'architects.id', 'leads.architect_id')
    .select([
      'projects.id',
      'projects.project_key',
      'projects.title',
      'projects.currency',
      'projects.contract_lines',
      'projects.contract_total',
      'projects.installation_at',
      'projects.crew_id',
      'leads.customer',
      'leads.site',
      'architects.email as architect_email',
      'architects.name as architect_name',
    ])
    .where('projects.tenant_id', '=', tenantId)
    .where('projects.id', '=', projectId)
    .executeTakeFirstOrThrow();
}

const siteLine = (site: { street: string; postcode: string; city: string; country: string }) =>
  `${site.street}, ${site.postcode} ${site.city}, ${site.country}`;

/** The side effects of lead to installation; each one changes the world once however often it runs. */
export function projectActivities(deps: ProjectDeps) {
  const { db } = deps;

  const configuratorUrl = (projectId: string, validFor: number) => {
    if (!deps.signingSecret)
      throw new Error('SIGNING_SECRET is not set: configurator links cannot be signed');
    return expiringUrl(
      deps.publicUrl,
      deps.signingSecret,
      'configure',
      projectId,
      new Date(Date.now() + validFor),
    );
  };

  const toCustomer = async (
    ref: ProjectRef,
    letter: { key: string; template: string; subject: string; body: string[]; resendDecision?: string },
  ) => {
    const project = await projectContext(db, ref.tenantId, ref.projectId);
    await sendEmail(deps, {
      tenantId: ref.tenantId,
      flowId: ref.flowId,
      idempotencyKey: `${ref.flowId}/${letter.key}`,
      template: letter.template,
      resendDecision: letter.resendDecision,
      to: project.customer.email,
      subject: letter.subject,
      text: [`Hello ${project.customer.name},`, '', ...letter.body, '', deps.companyName].join('\n'),
    });
  };

  /** The orders an approved selection version needs, against what the project has ordered and shipped. */
  async function adjustOrders(
    ref: ProjectRef,
    version: number,
    lines: PricedLine[],
  ): Promise<OrderAdjustment> {
    const project = await projectContext(db, ref.tenantId, ref.projectId);
    const orders = await db
      .selectFrom('supplier_orders')
      .innerJoin('flows', 'flows.id', 'supplier_orders.flow_id')
      .innerJoin('supplier_order_lines', 'supplier_order_lines.order_id', 'supplier_orders.id')
      .select([
        'supplier_orders.flow_id',
        'supplier_orders.supplier_id',
        'supplier_orders.state',
        'supplier_order_lines.sku',
        'supplier_order_lines.description',
        'supplier_order_lines.quantity',
      ])
      .where('supplier_orders.tenant_id', '=', ref.tenantId)
      .where('flows.parent_id', '=', ref.flowId)
      .where('supplier_orders.state', '!=', 'CANCELLED')
      .execute();
    const shippedStates = ['SHIPPED', 'RECEIVED'];
    const producers = new Set([
      ...orders.map((order) => order.supplier_id),
      ...lines.map((line) => line.supplierId),
    ]);
    const adjustment: OrderAdjustment = { withdraw: [], add: [], returns: [] };
    const count = (rows: { sku: string; quantity: number }[]) => {
      const bySku = new Map<string, number>();
      for (const row of rows) bySku.set(row.sku, (bySku.get(row.sku) ?? 0) + row.quantity);
      return bySku;
    };
    for (const supplierId of producers) {
      const ordered = orders.filter((order) => order.supplier_id === supplierId);
      const wanted = count(lines.filter((line) => line.supplierId === supplierId));
      const had = count(ordered);
      const same =
        wanted.size === had.size && [...wanted].every(([sku, quantity]) => had.get(sku) === quantity);
      if (same) continue;
      for (const flowId of new Set(
        ordered.filter((o) => !shippedStates.includes(o.state)).map((o) => o.flow_id),
      ))
        adjustment.withdraw.push(flowId);
      const shipped = count(ordered.filter((order) => shippedStates.includes(order.state)));
      const missing: ProducerOrderPlan['lines'] = [];
      for (const sku of new Set([...wanted.keys(), ...shipped.keys()])) {
        const difference = (wanted.get(sku) ?? 0) - (shipped.get(sku) ?? 0);
        const name =
          lines.find((line) => line.sku === sku)?.name ??
          ordered.find((o) => o.sku === sku)?.description ??
          sku;
        if (difference > 0) missing.push({ sku, description: name, quantity: difference });
        if (difference < 0) adjustment.returns.push({ sku, quantity: -difference });
      }
      if (missing.length === 0) continue;
      const supplier = await db
        .selectFrom('suppliers')
        .selectAll()
        .where('tenant_id', '=', ref.tenantId)
        .where('id', '=', supplierId)
        .executeTakeFirstOrThrow();
      const orderKey = producerOrderKey(project.project_key, supplier.code, version);
      const plan: ProducerOrderPlan = {
        workflowId: supplierOrderFlowId(ref.tenantSlug, orderKey),
        orderKey,
        supplier: supplierProfile(supplier),
        lines: missing,
        deliverTo: siteLine(project.site),
      };
      await recordProducerOrder(ref, plan, project.project_key, version);
      adjustment.add.push(plan);
    }
    return adjustment;
  }

  /** The order's records and `supplier.order.created`, once per order key. */
  async function recordProducerOrder(
    ref: ProjectRef,
    plan: ProducerOrderPlan,
    projectKey: string,
    version: number,
  ) {
    await db.transaction().execute(async (trx) => {
      await createSupplierOrderRecords(trx, {
        tenantId: ref.tenantId,
        orderKey: plan.orderKey,
        supplierId: plan.supplier.supplierId,
        flowId: plan.workflowId,
        lines: plan.lines,
        deliverTo: plan.deliverTo,
      });
      await appendEvent(trx, {
        tenantId: ref.tenantId,
        type: 'supplier.order.created',
        actor: SYSTEM,
        entity: { type: 'supplier_order', id: plan.orderKey },
        flowId: ref.flowId,
        traceId: ref.flowId,
        payload: { project: projectKey, supplier: plan.supplier.code, version, lines: plan.lines },
        idempotencyKey: `supplier_order/${ref.tenantId}/${plan.orderKey}/created`,
      });
    });
  }

  return {
    async qualifyLead(input: { tenantId: string; leadId: string; rules: QualificationRules }) {
      return qualifyByRules(db, { ...input, actor: SYSTEM });
    },

    async decideQualification(input: {
      tenantId: string;
      leadId: string;
      qualified: boolean;
      actor: Actor;
      note?: string;
    }) {
      return decideQualification(db, input);
    },

    async readLead(input: { tenantId: string; leadId: string }) {
      return readLead(db, input.tenantId, input.leadId);
    },

    /** The lead's owner (its architect, else operations) hears that it has not been converted yet. */
    async followUpLead(input: { tenantId: string; flowId: string; leadId: string; reminder: number }) {
      const lead = await db
        .selectFrom('leads')
        .leftJoin('architects', 'architects.id', 'leads.architect_id')
        .select(['leads.lead_key', 'leads.customer', 'leads.site', 'architects.email', 'architects.name'])
        .where('leads.tenant_id', '=', input.tenantId)
        .where('leads.id', '=', input.leadId)
        .executeTakeFirstOrThrow();
      await sendEmail(deps, {
        tenantId: input.tenantId,
        flowId: input.flowId,
        idempotencyKey: `${input.flowId}/lead-follow-up/${input.reminder}`,
        template: 'lead.follow-up',
        to: lead.email ?? deps.opsEmail,
        subject: `Lead ${lead.lead_key} (${lead.customer.name}) is waiting to be converted`,
        text: [
          `Hello ${lead.name ?? 'team'},`,
          '',
          `the lead ${lead.lead_key} for ${lead.customer.name} at ${siteLine(lead.site)} has not become a project yet.`,
          'Please follow it up with the customer.',
          '',
          deps.companyName,
        ].join('\n'),
      });
    },

    async readProject(input: { tenantId: string; projectId: string }) {
      return readProject(db, input.tenantId, input.projectId);
    },

    async contractTerms(input: { tenantId: string; projectId: string }): Promise<ContractTerms> {
      const project = await projectContext(db, input.tenantId, input.projectId);
      return {
        projectKey: project.project_key,
        proposal: {
          proposalId: project.project_key,
          title: project.title,
          currency: project.currency,
          customer: {
            name: project.customer.name,
            email: project.customer.email,
            address: siteLine(project.site),
          },
          lines: project.contract_lines,
        },
      };
    },

    async confirmProject(input: { tenantId: string; projectId: string }) {
      await confirmProject(db, { ...input, actor: SYSTEM });
    },

    /** The n-th configurator link (a fresh one each time the customer asks), working for `validForMs`. */
    async sendConfiguratorLink(
      input: ProjectRef & { link: number; validForMs: number; reminder?: number; resendDecision?: string },
    ) {
      const project = await projectContext(db, input.tenantId, input.projectId);
      const url = configuratorUrl(input.projectId, input.validForMs);
      const reminder = input.reminder !== undefined;
      await toCustomer(input, {
        key: reminder ? `configurator-reminder/${input.reminder}` : `configurator-link/${input.link}`,
        template: reminder ? 'project.configurator-reminder' : 'project.configurator-link',
        resendDecision: input.resendDecision,
        subject: reminder
          ? `Reminder: choose the panels for ${project.title}`
          : `Choose the panels for ${project.title}`,
        body: [
          reminder
            ? 'your selection of panels, inverters and accessories is still open. Please choose and lock it here:'
            : 'please choose the panels, inverters and accessories for your installation here, and lock the selection when it is complete:',
          '',
          url,
          '',
          `The link works until ${new Date(Date.now() + input.validForMs).toUTCString()}; opening it later sends you a fresh one.`,
        ],
      });
    },

    /** The advance invoice's terms: a percentage of the contract, or of the contract and the locked selection. */
    async advanceInvoiceLines(input: {
      tenantId: string;
      projectId: string;
      percent: number;
      withSelection: boolean;
    }): Promise<ProposalLine[]> {
      const project = await projectContext(db, input.tenantId, input.projectId);
      const selection = input.withSelection ? (await lockedLines(db, input.projectId)).total : 0;
      const base = Number(project.contract_total) + selection;
      return [
        {
          description: `Advance of ${input.percent} % on ${project.title} (${formatMoney(base, project.currency)})`,
          quantity: 1,
          unitPrice: Math.round((base * input.percent) / 100),
        },
      ];
    },

    /** The final invoice: the contract and the selection as installed, less what the advance invoiced. */
    async finalInvoiceLines(input: { tenantId: string; projectId: string }): Promise<ProposalLine[]> {
      const project = await projectContext(db, input.tenantId, input.projectId);
      const selection = await lockedLines(db, input.projectId);
      const advance = await db
        .selectFrom('invoices')
        .select(['number', 'total'])
        .where('tenant_id', '=', input.tenantId)
        .where('invoice_key', '=', projectInvoiceKey(project.project_key, 'advance'))
        .executeTakeFirst();
      const total = Number(project.contract_total) + selection.total;
      const advanced = Number(advance?.total ?? 0);
      return [
        {
          description:
            `${project.title}: contract ${formatMoney(Number(project.contract_total), project.currency)}, ` +
            `panels and equipment ${formatMoney(selection.total, project.currency)}` +
            (advance ? `, less advance ${advance.number} ${formatMoney(advanced, project.currency)}` : ''),
          quantity: 1,
          unitPrice: Math.max(0, total - advanced),
        },
      ];
    },

    /**
     * Splits the locked selection by producer and writes one supplier order per producer (once per selection
     * version), for the flow to run as its children.
     */
    async planProducerOrders(input: ProjectRef): Promise<ProducerOrderPlan[]> {
      const project = await projectContext(db, input.tenantId, input.projectId);
      const { version, lines } = await lockedLines(db, input.projectId);
      const bySupplier = new Map<string, typeof lines>();
      for (const line of lines)
        bySupplier.set(line.supplierId, [...(bySupplier.get(line.supplierId) ?? []), line]);
      const plans: ProducerOrderPlan[] = [];
      for (const [supplierId, supplierLines] of bySupplier) {
        const supplier = await db
          .selectFrom('suppliers')
          .selectAll()
          .where('tenant_id', '=', input.tenantId)
          .where('id', '=', supplierId)
          .executeTakeFirstOrThrow();
        const orderKey = producerOrderKey(project.project_key, supplier.code, version);
        const plan = {
          workflowId: supplierOrderFlowId(input.tenantSlug, orderKey),
          orderKey,
          supplier: supplierProfile(supplier),
          lines: supplierLines.map((line) => ({
            sku: line.sku,
            description: line.name,
            quantity: line.quantity,
          })),
          deliverTo: siteLine(project.site),
        };
        await recordProducerOrder(input, plan, project.project_key, version);
        plans.push(plan);
      }
      return plans;
    },

    /**
     * When the project's goods can ship at the latest, as its open orders now say (the supplier's promise, or the
     * date a person gave a late order); null when every order has shipped or says nothing.
     */
    async latestShipment(input: ProjectRef): Promise<string | null> {
      const row = await db
        .selectFrom('supplier_orders')
        .innerJoin('flows', 'flows.id', 'supplier_orders.flow_id')
        .select((eb) => eb.fn.max('supplier_orders.expected_ship_at').as('latest'))
        .where('supplier_orders.tenant_id', '=', input.tenantId)
        .where('flows.parent_id', '=', input.flowId)
        .where('supplier_orders.state', 'not in', ['SHIPPED', 'RECEIVED', 'CANCELLED'])
        .executeTakeFirst();
      return row?.latest ? new Date(row.latest).toISOString() : null;
    },

    /**
     * A coordinator's word on the customer's change request. Rejected: the customer hears why. Approved: the
     * selection's next version is locked, and the orders follow it: a producer whose lines changed has its open
     * orders withdrawn and gets an order for what its shipped goods do not cover; what was shipped beyond the new
     * selection is listed as a return. The customer hears either way, once.
     */
    async decideChangeRequest(
      input: ProjectRef & { requestId: string; approve: boolean; actor: Actor; note?: string },
    ): Promise<OrderAdjustment> {
      const none: OrderAdjustment = { withdraw: [], add: [], returns: [] };
      const decided = await decideChange(db, { ...input });
      if (decided.result === 'already') return none;
      if (decided.result === 'invalid')
        throw ApplicationFailure.nonRetryable(
          `the change can no longer be priced: ${decided.problems.map((p) => p.message).join('; ')}`,
          'InvalidInput',
        );
      if (decided.result === 'rejected') {
        await toCustomer(input, {
          key: `change/${input.requestId}/rejected`,
          template: 'project.change-rejected',
          subject: 'Your change request',
          body: [
            'we cannot make the change you asked for to your selection; it stays as you locked it.',
            ...(input.note ? ['', input.note] : []),
          ],
        });
        return none;
      }
      const adjustment = await adjustOrders(
        input,
        decided.selection.version,
        decided.selection.lines as PricedLine[],
      );
      await appendEvent(db, {
        tenantId: input.tenantId,
        type: 'supplier.orders.adjusted',
        actor: input.actor,
        entity: { type: 'panel_selection', id: decided.selection.id },
        flowId: input.flowId,
        traceId: input.flowId,
        payload: {
          version: decided.selection.version,
          withdrawn: adjustment.withdraw,
          added: adjustment.add.map((plan) => plan.orderKey),
          returns: adjustment.returns,
        },
        idempotencyKey: `project/${input.projectId}/orders-adjusted/v${decided.selection.version}`,
      });
      await toCustomer(input, {
        key: `change/${input.requestId}/approved`,
        template: 'project.change-approved',
        subject: 'Your change request is approved',
        body: [
          `we have changed your selection as you asked (version ${decided.selection.version}, ${formatMoney(Number(decided.selection.total), (await projectContext(db, input.tenantId, input.projectId)).currency)}).`,
          ...(input.note ? ['', input.note] : []),
        ],
      });
      return adjustment;
    },

    /** An open change request the flow can no longer act on (the goods came first) is rejected with why. */
    async closeChangeRequest(input: ProjectRef & { requestId: string; why: string }) {
      await decideChange(db, { ...input, approve: false, actor: SYSTEM, note: input.why });
    },

    async proposeInstallation(input: { tenantId: string; projectId: string; earliest: string }) {
      return proposeInstallation(db, { ...input, actor: SYSTEM });
    },

    async confirmInstallation(input: {
      tenantId: string;
      projectId: string;
      actor: Actor;
      overrideNote?: string;
    }) {
      return confirmInstallation(db, input);
    },

    /** A coordinator moves the installation: recorded, and the customer told once per decision. */
    async moveInstallation(
      input: ProjectRef & { at: string; actor: Actor; decisionId: string; note?: string },
    ): Promise<void> {
      const moved = await moveInstallation(db, input);
      if (!moved.moved) return;
      await toCustomer(input, {
        key: `rescheduled/${input.decisionId}`,
        template: 'project.rescheduled',
        subject: 'Your installation has a new date',
        body: [
          `we have moved your installation${moved.from ? ` from ${new Date(moved.from).toUTCString()}` : ''} to ${new Date(moved.to).toUTCString()}.`,
          'We are sorry for the change. Reply to this email if the new date does not suit you.',
        ],
      });
    },

    async advanceSelection(input: { tenantId: string; projectId: string; to: 'PRODUCED' | 'DELIVERED' }) {
      await advanceSelection(db, { ...input, actor: SYSTEM });
    },

    /**
     * The installation is near (`logistics.delivery.dueSoon`, once per date): the customer gets the checklist,
     * the crew its job sheet.
     */
    async announceInstallation(input: ProjectRef): Promise<void> {
      const project = await projectContext(db, input.tenantId, input.projectId);
      if (!project.installation_at || !project.crew_id) throw new Error('the installation has no slot');
      const at = project.installation_at.toISOString();
      const crew = await db
        .selectFrom('crews')
        .select(['name', 'email'])
        .where('id', '=', project.crew_id)
        .executeTakeFirstOrThrow();
      const { lines } = await lockedLines(db, input.projectId);
      await appendEvent(db, {
        tenantId: input.tenantId,
        type: 'logistics.delivery.dueSoon',
        actor: SYSTEM,
        entity: { type: 'project', id: project.project_key },
        flowId: input.flowId,
        traceId: input.flowId,
        payload: { installationAt: at, crew: crew.name },
        idempotencyKey: `project/${project.id}/due-soon/${at}`,
      });
      const when = new Date(at).toUTCString();
      await toCustomer(input, {
        key: `due-soon/customer/${at}`,
        template: 'project.due-soon',
        subject: `Your installation on ${when}`,
        body: [
          `${crew.name} will install your system on ${when} at ${siteLine(project.site)}. Before then, please:`,
          '',
          '- clear access to the roof and the meter cabinet;',
          '- make sure someone over 18 is at home to let the crew in;',
          '- keep a parking space free for the van.',
        ],
      });
      await sendEmail(deps, {
        tenantId: input.tenantId,
        flowId: input.flowId,
        idempotencyKey: `${input.flowId}/due-soon/crew/${at}`,
        template: 'project.job-sheet',
        to: crew.email,
        subject: `Job sheet: ${project.title}, ${when}`,
        text: [
          `Job ${project.project_key}: ${project.title}`,
          `When: ${when}`,
          `Where: ${siteLine(project.site)}`,
          `Customer: ${project.customer.name}${project.customer.phone ? `, ${project.customer.phone}` : ''}`,
          '',
          'Material:',
          ...lines.map((line) => `- ${line.quantity} × ${line.name} (${line.sku})`),
        ].join('\n'),
      });
    },

    async solveProblem(input: {
      tenantId: string;
      projectId: string;
      actor: Actor;
      decisionId: string;
      note?: string;
    }) {
      await solveProblem(db, input);
    },

    /**
     * The project's invoices that were paid (their flows have ended): cancelling the project credits them too,
     * each under its own invoice flow's id, so a credit note is written once whoever asks.
     */
    async paidProjectInvoices(input: ProjectRef): Promise<PaidProjectInvoice[]> {
      const project = await projectContext(db, input.tenantId, input.projectId);
      const rows = await db
        .selectFrom('invoices')
        .selectAll()
        .where('tenant_id', '=', input.tenantId)
        .where('invoice_key', 'in', [
          projectInvoiceKey(project.project_key, 'advance'),
          projectInvoiceKey(project.project_key, 'final'),
        ])
        .where('state', 'in', ['PAID', 'PARTIALLY_REFUNDED'])
        .where('credit_note_number', 'is', null)
        .execute();
      return rows.flatMap((row) =>
        row.number && row.due_at
          ? [
              {
                tenantId: input.tenantId,
                flowId: row.flow_id,
                title: project.title,
                customer: { name: row.customer_name, email: row.customer_email },
                invoice: {
                  invoiceId: row.id,
                  number: row.number,
                  total: Number(row.total),
                  currency: row.currency,
                  dueAt: row.due_at.toISOString(),
                },
              },
            ]
          : [],
      );
    },

    async closeProject(input: { tenantId: string; projectId: string }) {
      await closeProject(db, { ...input, actor: SYSTEM });
    },

    /** Cancelled with its flow: the project is CANCELLED, and the customer and the architect are told once. */
    async cancelProject(input: ProjectRef & { reason?: string }) {
      const cancelled = await cancelProject(db, { ...input, actor: SYSTEM });
      const project = await projectContext(db, input.tenantId, input.projectId);
      if (!cancelled) {
        const state = await db
          .selectFrom('projects')
          .select('state')
          .where('id', '=', input.projectId)
          .executeTakeFirstOrThrow();
        if (state.state !== 'CANCELLED') return;
      }
      await toCustomer(input, {
        key: 'cancelled/customer',
        template: 'project.cancelled',
        subject: `${project.title} is cancelled`,
        body: [
          `your project "${project.title}" is cancelled${input.reason ? `: ${input.reason}` : ''}.`,
          'Open orders are withdrawn and anything invoiced is credited. We will be in touch about any payment made.',
        ],
      });
      if (project.architect_email)
        await sendEmail(deps, {
          tenantId: input.tenantId,
          flowId: input.flowId,
          idempotencyKey: `${input.flowId}/cancelled/architect`,
          template: 'project.cancelled-architect',
          to: project.architect_email,
          subject: `Project ${project.project_key} is cancelled`,
          text: [
            `Hello ${project.architect_name},`,
            '',
            `the project ${project.project_key} for ${project.customer.name} is cancelled${input.reason ? `: ${input.reason}` : ''}.`,
            '',
            deps.companyName,
          ].join('\n'),
        });
    },
  };
}

export type ProjectActivities = ReturnType<typeof projectActivities>;
