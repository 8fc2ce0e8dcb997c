import { continueAsNew, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { ProposalActivities } from '../activities/proposals.js';
import { contractFlowId } from '../domain/contract.js';
import { invoiceFlowId } from '../domain/invoice.js';
import {
  cycleInvoiceKey,
  type ProposalToPaymentInput,
  type ProposalToPaymentResult,
  proposalToPaymentFlow,
} from '../domain/proposalToPayment.js';
import { contractSigning } from './contractSigning.js';
import { invoicePayment } from './invoicePayment.js';
import { Flow } from './kernel/index.js';
import { stepActivityOptions } from './kernel/retry.js';

/**
 * Proposal to payment, as the business tells it: the proposal is accepted, a contract is generated, sent and
 * signed, an invoice is issued and paid. Signing and payment are child flows; this flow shows their progress as
 * its six steps. A recurring agreement then invoices again every `recurring.every`, each cycle a new run.
 */
export async function proposalToPayment(input: ProposalToPaymentInput): Promise<ProposalToPaymentResult> {
  const { proposal, tenantId, tenantSlug, billing } = input;
  const flow = new Flow(proposalToPaymentFlow, {
    businessKey: proposal.proposalId,
    tenantId,
    retry: input.retry,
    variant: billing ? 'billingCycle' : undefined,
    continues: billing?.continues,
  });
  const proposals = proxyActivities<ProposalActivities>(stepActivityOptions(input.retry));
  const flowId = workflowInfo().workflowId;
  const cycle = billing?.cycle ?? 1;
  const anotherCycle = input.recurring !== undefined && cycle < input.recurring.cycles;

  const invoice = (invoiceKey: string) =>
    flow.child(
      invoicePayment,
      {
        workflowId: invoiceFlowId(tenantSlug, invoiceKey),
        args: [
          {
            tenantId,
            tenantSlug,
            invoiceKey,
            title: proposal.title,
            customer: proposal.customer,
            currency: proposal.currency,
            lines: proposal.lines,
            payment: input.payment,
            retry: input.retry,
          },
        ],
      },
      { issueInvoice: 'invoiceIssued', awaitPayment: 'paymentReceived' },
    );

  const result = await flow.run(
    async () => {
      if (billing) {
        await flow.step('nextBillingDate', () => sleep(input.recurring?.every ?? 0));
        const paid = await invoice(cycleInvoiceKey(proposal.proposalId, cycle));
        return { proposalId: proposal.proposalId, contract: billing.contract, invoices: [paid] };
      }
      await flow.step('proposalAccepted', () => proposals.acceptProposal({ tenantId, flowId, proposal }));
      const contract = await flow.child(
        contractSigning,
        {
          workflowId: contractFlowId(tenantSlug, proposal.proposalId),
          args: [
            {
              tenantId,
              tenantSlug,
              contractId: proposal.proposalId,
              proposal,
              signing: input.signing,
              retry: input.retry,
            },
          ],
        },
        {
          generateContract: 'contractGenerated',
          sendSigningLink: 'contractSent',
          awaitSignature: 'contractSigned',
        },
      );
      const paid = await invoice(
        input.recurring ? cycleInvoiceKey(proposal.proposalId, 1) : proposal.proposalId,
      );
      return { proposalId: proposal.proposalId, contract, invoices: [paid] };
    },
    { continuesAsNew: anotherCycle },
  );

  if (anotherCycle) {
    // Each billing cycle is a new run, so the history stays short however long the agreement lasts.
    return continueAsNew<typeof proposalToPayment>({
      ...input,
      billing: { cycle: cycle + 1, contract: result.contract, continues: flow.continuation },
    });
  }
  return result;
}
