import { msToNumber } from '@temporalio/common';
import {
  condition,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { InvoiceActivities } from '../activities/invoices.js';
import type {
  ContractTerms,
  ProducerOrderPlan,
  ProjectActivities,
  ProjectRef,
} from '../activities/projects.js';
import { contractFlowId } from '../domain/contract.js';
import { type Actor, SYSTEM } from '../domain/flow.js';
import type { DecisionFor } from '../domain/flowDefinition.js';
import { invoiceFlowId } from '../domain/invoice.js';
import {
  type LeadFacts,
  type LeadToInstallInput,
  type LeadToInstallResult,
  leadToInstallFlow,
  type ProjectFacts,
  type ProjectNews,
  projectInvoiceKey,
  projectNews,
} from '../domain/leadToInstall.js';
import type { ProposalLine } from '../domain/proposal.js';
import { type SupplierOrderNews, supplierOrderNews } from '../domain/supplierOrder.js';
import { contractSigning } from './contractSigning.js';
import { invoicePayment } from './invoicePayment.js';
import { ChildSetChanges, Flow, resendDecision } from './kernel/index.js';
import { outsideStepActivityOptions, readActivityOptions, stepActivityOptions } from './kernel/retry.js';
import { supplierOrder } from './supplierOrder.js';

type ProjectDecision = DecisionFor<typeof leadToInstallFlow>;

/** The date a `moveInstallation` decision names (the API checked its input against the schema). */
const newDate = (decision: ProjectDecision): string | undefined =>
  decision.input && 'installAt' in decision.input ? decision.input.installAt : undefined;

/**
 * Lead to installation, the company's main process: the lead is qualified (by the tenant's rules, or a
 * coordinator) and converted to a project; the contract is signed; the customer chooses the panels and locks the
 * selection; one order per producer runs at once while a tentative installation date is held; the date is
 * confirmed once the goods are in; the customer and the crew hear of it in time; the crew installs; the final
 * invoice is paid and the project closed. An advance invoice comes after the signature or after the lock, as the
 * tenant says. Contract, invoices and orders are child flows.
 */
export async function leadToInstall(input: LeadToInstallInput): Promise<LeadToInstallResult> {
  const { tenantId, tenantSlug, leadId, leadKey, settings } = input;
  const advanceOnLock = settings.advance.after === 'selection_locked';
  const flow = new Flow(leadToInstallFlow, {
    businessKey: leadKey,
    tenantId,
    retry: settings.retry,
    variant: advanceOnLock ? 'advanceOnLock' : undefined,
  });
  const projects = proxyActivities<ProjectActivities>(stepActivityOptions(settings.retry));
  const records = proxyActivities<ProjectActivities>(outsideStepActivityOptions(settings.retry));
  const facts = proxyLocalActivities<ProjectActivities>(readActivityOptions(settings.retry));
  const credits = proxyActivities<InvoiceActivities>(outsideStepActivityOptions(settings.retry));
  const flowId = workflowInfo().workflowId;
  const margin = msToNumber(settings.deliveryMargin);

  const news: ProjectNews[] = [];
  /** Change requests heard of: the flow reads the open one from the records. */
  let changeNews = 0;
  setHandler(projectNews, (item) => {
    news.push(item);
    if (item.kind === 'changeRequested') changeNews++;
  });
  const orderNews: SupplierOrderNews[] = [];
  setHandler(supplierOrderNews, (item) => {
    orderNews.push(item);
  });
  const heard = () => news.length > 0;

  let lead: LeadFacts = { state: 'NEW', lostReason: null, project: null };
  const rereadLead = async () => {
    news.length = 0;
    lead = await facts.readLead({ tenantId, leadId });
  };
  const lost = (): LeadToInstallResult => ({ leadKey, outcome: 'lost', invoices: [] });

  return flow.run(async () => {
    await flow.step('qualifyLead', async () => {
      const qualification = await projects.qualifyLead({ tenantId, leadId, rules: settings.qualification });
      if (qualification.passed) return;
      await rereadLead();
      while (lead.state === 'NEW') {
        const decision = await flow.needsAttention(
          flow.stepNamed('qualifyLead'),
          {
            reason: 'qualification_needed',
            error: `the lead does not meet the rules: ${qualification.failed.join('; ')}`,
            options: ['qualify', 'disqualify'],
          },
          heard,
        );
        if (decision)
          await projects.decideQualification({
            tenantId,
            leadId,
            qualified: decision.action === 'qualify',
            actor: decision.actor,
            note: decision.note,
          });
        await rereadLead();
      }
    });
    await rereadLead();
    if (lead.state === 'LOST') return lost();
    await flow.waitFor('convertToProject', () => lead.state === 'WON' || lead.state === 'LOST', {
      remindEvery: settings.followUpAfter,
      remind: (reminder) => projects.followUpLead({ tenantId, flowId, leadId, reminder }),
      news: heard,
      reread: rereadLead,
    });
    // A lost lead has no project; a won one has.
    if (!lead.project) return lost();
    const { projectId, projectKey } = lead.project;
    const ref: ProjectRef = { tenantId, tenantSlug, flowId, projectId };
    // Open orders and unpaid invoices are children: cancelled with the project, each compensates by its own rules.
    // What was paid is credited here (finance refunds it), and the customer and the architect are told.
    flow.onCancel('cancelProject', async () => {
      await records.cancelProject({ ...ref, reason: 'cancelled in Flowdesk' });
      for (const paid of await records.paidProjectInvoices(ref))
        await credits.cancelInvoice({ ...paid, reason: 'project cancelled' });
    });

    let project: ProjectFacts = await facts.readProject({ tenantId, projectId });
    const rereadProject = async () => {
      news.length = 0;
      project = await facts.readProject({ tenantId, projectId });
    };
    const terms: ContractTerms = await records.contractTerms({ tenantId, projectId });
    const { customer, currency, title } = terms.proposal;
    const invoices: string[] = [];

    await flow.child(
      contractSigning,
      {
        workflowId: contractFlowId(tenantSlug, `${projectKey}~contract`),
        args: [
          {
            tenantId,
            tenantSlug,
            contractId: `${projectKey}~contract`,
            proposal: terms.proposal,
            signing: settings.signing,
            retry: settings.retry,
          },
        ],
      },
      {
        generateContract: 'contractGenerated',
        sendSigningLink: 'contractSent',
        awaitSignature: 'contractSigned',
      },
    );
    await records.confirmProject({ tenantId, projectId });

    async function invoice(kind: 'advance' | 'final', lines: ProposalLine[]) {
      const invoiceKey = projectInvoiceKey(projectKey, kind);
      const paid = await flow.child(
        invoicePayment,
        {
          workflowId: invoiceFlowId(tenantSlug, invoiceKey),
          args: [
            {
              tenantId,
              tenantSlug,
              invoiceKey,
              title: kind === 'advance' ? `Advance: ${title}` : title,
              customer,
              currency,
              lines,
              payment: settings.payment,
              retry: settings.retry,
            },
          ],
        },
        kind === 'advance'
          ? { issueInvoice: 'advanceInvoiced', awaitPayment: 'advancePaid' }
          : { issueInvoice: 'finalInvoiced', awaitPayment: 'finalPaid' },
      );
      invoices.push(paid.number);
    }

    async function invoiceAdvance() {
      if (settings.advance.percent === 0) {
        await flow.step('advanceInvoiced', async () => undefined);
        await flow.step('advancePaid', async () => undefined);
        return;
      }
      const lines = await records.advanceInvoiceLines({
        tenantId,
        projectId,
        percent: settings.advance.percent,
        withSelection: advanceOnLock,
      });
      await invoice('advance', lines);
    }

    if (!advanceOnLock) await invoiceAdvance();

    /** Fresh links the customer asked for (an expired link opened) are sent as the news comes in. */
    let freshLinks = 0;
    const configuratorLink = (link: number) =>
      flow.within('selectionLocked', (retry) =>
        projects.sendConfiguratorLink({
          ...ref,
          link,
          validForMs: msToNumber(settings.configurator.linkValidFor),
          resendDecision: resendDecision(retry),
        }),
      );
    await rereadProject();
    if (project.selection.state === 'DRAFT') await configuratorLink(1);
    await flow.waitFor('selectionLocked', () => project.selection.state !== 'DRAFT', {
      remindEvery: settings.configurator.remindEvery,
      remind: (reminder) =>
        projects.sendConfiguratorLink({
          ...ref,
          link: 0,
          reminder,
          validForMs: msToNumber(settings.configurator.linkValidFor),
        }),
      deadline: settings.configurator.deadline,
      news: heard,
      reread: async () => {
        await rereadProject();
        while (freshLinks < project.linkRequests) {
          freshLinks++;
          await configuratorLink(freshLinks + 1);
        }
      },
    });

    if (advanceOnLock) await invoiceAdvance();

    const plans = await records.planProducerOrders(ref);
    const longestLeadTime = Math.max(0, ...plans.map((plan) => msToNumber(plan.supplier.leadTime)));
    await records.proposeInstallation({
      tenantId,
      projectId,
      earliest: new Date(Date.now() + longestLeadTime + margin).toISOString(),
    });

    /** A coordinator moves the installation: recorded, and the customer told, once per decision. */
    const move = async (
      step: 'producerOrders' | 'installationScheduled' | 'installation',
      decision: ProjectDecision,
    ) => {
      const at = newDate(decision);
      if (at)
        await flow.within(step, () =>
          projects.moveInstallation({
            ...ref,
            at,
            actor: decision.actor,
            decisionId: decision.decisionId,
            note: decision.note,
          }),
        );
      await rereadProject();
    };
    const needsNote = (decision: ProjectDecision) =>
      ['acceptRisk', 'overrideCapacity', 'continueInstallation'].includes(decision.action) && !decision.note
        ? `${decision.action} needs a note saying why`
        : decision.action === 'moveInstallation' && Date.parse(newDate(decision) ?? '') <= Date.now()
          ? 'the new installation date has passed'
          : undefined;

    /**
     * While the orders run, a late one reaches the project: when the goods can no longer arrive `margin` before
     * the installation, a coordinator moves the date or accepts the risk.
     */
    let ordersDone = false;
    const shipped = new Set<string>();
    /** The orders in force: those planned at the lock, as approved changes withdraw and add them. */
    const ordered = new Set(plans.map((plan) => plan.orderKey));
    const followOrders = async () => {
      for (;;) {
        await condition(() => orderNews.length > 0 || ordersDone);
        const item = orderNews.shift();
        if (!item) return;
        if (item.news === 'shipped') {
          shipped.add(item.orderId);
          if ([...ordered].every((orderKey) => shipped.has(orderKey)))
            await records.advanceSelection({ tenantId, projectId, to: 'PRODUCED' });
        }
        if (item.news !== 'delayed' && item.news !== 'rescheduled') continue;
        await rereadProject();
        const installAt = project.installation ? Date.parse(project.installation.at) : undefined;
        const latest = await facts.latestShipment(ref);
        const arrival = Math.max(Date.now(), latest ? Date.parse(latest) : 0);
        if (installAt === undefined || arrival + margin <= installAt) continue;
        const decision = await flow.needsAttention(
          flow.stepNamed('producerOrders'),
          {
            reason: 'installation_at_risk',
            error: `${item.orderId} is late: its goods may ship ${new Date(arrival).toISOString()}, too late for the installation on ${new Date(installAt).toISOString()} (${settings.deliveryMargin} between delivery and installation)`,
            options: ['moveInstallation', 'acceptRisk'],
          },
          () => ordersDone,
          needsNote,
        );
        if (decision?.action === 'moveInstallation') await move('producerOrders', decision);
        await flow.publishNow();
      }
    };
    /**
     * While the orders run, the customer may ask for a change: a coordinator approves it (the next selection
     * version, and the orders follow it: withdrawn, added) or rejects it.
     */
    const orderChanges = new ChildSetChanges<Parameters<typeof supplierOrder>>();
    const orderRun = (plan: ProducerOrderPlan) => ({
      workflowId: plan.workflowId,
      args: [
        {
          tenantId,
          tenantSlug,
          orderId: plan.orderKey,
          supplier: plan.supplier,
          lines: plan.lines,
          deliverTo: plan.deliverTo,
          retry: settings.retry,
        },
      ] as Parameters<typeof supplierOrder>,
    });
    let changesSeen = 0;
    const decideChanges = async () => {
      for (;;) {
        await condition(() => changeNews > changesSeen || ordersDone);
        if (ordersDone) return;
        changesSeen = changeNews;
        await rereadProject();
        const request = project.openChangeRequest;
        if (!request) continue;
        const decision = await flow.needsAttention(
          flow.stepNamed('producerOrders'),
          {
            reason: 'change_requested',
            error: `the customer asks for a change to the locked selection: ${request.reason}`,
            options: ['approveChange', 'rejectChange'],
          },
          () => ordersDone,
        );
        if (!decision) continue;
        const adjustment = await flow.within('producerOrders', () =>
          projects.decideChangeRequest({
            ...ref,
            requestId: request.requestId,
            approve: decision.action === 'approveChange',
            actor: decision.actor,
            note: decision.note,
          }),
        );
        for (const workflowId of adjustment.withdraw) {
          orderChanges.withdraw(workflowId);
          for (const plan of plans) if (plan.workflowId === workflowId) ordered.delete(plan.orderKey);
        }
        for (const plan of adjustment.add) {
          plans.push(plan);
          ordered.add(plan.orderKey);
          orderChanges.add(orderRun(plan));
        }
        await flow.publishNow();
      }
    };
    const [orders] = await Promise.all([
      flow
        .childSet('producerOrders', supplierOrder, plans.map(orderRun), { changes: orderChanges })
        .finally(() => {
          ordersDone = true;
        }),
      followOrders(),
      decideChanges(),
    ]);
    await rereadProject();
    if (project.openChangeRequest)
      await records.closeChangeRequest({
        ...ref,
        requestId: project.openChangeRequest.requestId,
        why: 'the goods were delivered before the change could be decided',
      });
    await records.advanceSelection({ tenantId, projectId, to: 'PRODUCED' });
    await records.advanceSelection({ tenantId, projectId, to: 'DELIVERED' });

    await flow.step('installationScheduled', async () => {
      let override: { note: string; actor: Actor } | undefined;
      for (;;) {
        await rereadProject();
        if (!project.installation)
          await projects.proposeInstallation({
            tenantId,
            projectId,
            earliest: new Date(Date.now() + margin).toISOString(),
          });
        const confirmation = await projects.confirmInstallation({
          tenantId,
          projectId,
          actor: override?.actor ?? SYSTEM,
          overrideNote: override?.note,
        });
        if (confirmation.result !== 'conflict') return;
        const decision = await flow.needsAttention(
          flow.stepNamed('installationScheduled'),
          {
            reason: 'scheduling_conflict',
            error: confirmation.why,
            options: ['moveInstallation', 'overrideCapacity'],
          },
          undefined,
          needsNote,
        );
        if (decision?.action === 'moveInstallation') await move('installationScheduled', decision);
        if (decision?.action === 'overrideCapacity' && decision.note)
          override = { note: decision.note, actor: decision.actor };
      }
    });

    await rereadProject();
    const dueSoonAt = Date.parse(project.installation?.at ?? '') - msToNumber(settings.dueSoonBefore);
    if (dueSoonAt > Date.now()) await sleep(dueSoonAt - Date.now());
    await flow.step('deliveryDueSoon', () => projects.announceInstallation(ref));

    await rereadProject();
    await flow.waitFor('installation', () => project.state === 'DONE' || project.state === 'CLOSED', {
      news: heard,
      reread: async () => {
        await rereadProject();
        while (project.problem) {
          const decision = await flow.needsAttention(
            flow.stepNamed('installation'),
            {
              reason: 'installation_problem',
              error: project.problem,
              options: ['continueInstallation', 'moveInstallation'],
            },
            undefined,
            needsNote,
          );
          if (decision)
            await records.solveProblem({
              tenantId,
              projectId,
              actor: decision.actor,
              decisionId: decision.decisionId,
              note: decision.note,
            });
          if (decision?.action === 'moveInstallation') await move('installation', decision);
          else await rereadProject();
        }
      },
    });

    await invoice('final', await records.finalInvoiceLines({ tenantId, projectId }));
    await records.closeProject({ tenantId, projectId });
    return { leadKey, outcome: 'closed', projectKey, orders: orders.length, invoices };
  });
}
