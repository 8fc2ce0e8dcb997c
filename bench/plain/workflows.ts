/**
 * Proposal to payment written by hand, without the flow kernel, as the plain baseline of the throughput benchmark:
 * the same activities (rendering, SMTP, stripe-mock, the same business rows), the same children, signals and
 * outside world, under the same workflow type names, so the API, the signing page and Stripe's webhooks drive it
 * unchanged. Status is kept the way Temporal's order-management reference app keeps it: a query, plus one row
 * update per state change.
 */
import { msToNumber } from '@temporalio/common';
import {
  condition,
  defineQuery,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ContractActivities } from '../../activities/contracts.js';
import type { InvoiceActivities } from '../../activities/invoices.js';
import type { ProposalActivities } from '../../activities/proposals.js';
import type { SupplierOrderActivities } from '../../activities/supplierOrders.js';
import {
  type ContractSigningInput,
  contractFlowId,
  contractSigned,
  type SignatureEvent,
  type SignedContract,
} from '../../domain/contract.js';
import {
  type InvoicePaymentInput,
  invoiceFlowId,
  type PaidInvoice,
  paymentReceived,
} from '../../domain/invoice.js';
import type { ProposalToPaymentInput, ProposalToPaymentResult } from '../../domain/proposalToPayment.js';
import {
  hasReached,
  isAdvance,
  type SupplierOrderInput,
  type SupplierOrderOutcome,
  type SupplierOrderState,
  supplierStatus,
} from '../../domain/supplierOrder.js';
import type { PlainActivities } from './activities.js';

const options = { startToCloseTimeout: '1 minute', retry: { maximumAttempts: 5 } } as const;
const { acceptProposal } = proxyActivities<ProposalActivities>(options);
const contracts = proxyActivities<ContractActivities>(options);
const invoices = proxyActivities<InvoiceActivities>(options);
const suppliers = proxyActivities<SupplierOrderActivities>(options);
const { recordFlowState } = proxyActivities<PlainActivities>(options);

export const plainStatus = defineQuery<{ state: string; step: string }>('plainStatus');

/** The query and the row, both set on every change of state. */
function statusKeeper(total: number) {
  const status = { state: 'running', step: '', done: 0 };
  setHandler(plainStatus, () => status);
  return async (state: string, step: string, done: number) => {
    Object.assign(status, { state, step, done });
    await recordFlowState({ flowId: workflowInfo().workflowId, state, step, done, total });
  };
}

export async function proposalToPayment(input: ProposalToPaymentInput): Promise<ProposalToPaymentResult> {
  const { proposal, tenantId, tenantSlug } = input;
  const flowId = workflowInfo().workflowId;
  const setState = statusKeeper(6);
  await acceptProposal({ tenantId, flowId, proposal });
  await setState('running', 'contractSigned', 1);
  const contract = await executeChild(contractSigning, {
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
  });
  await setState('running', 'paymentReceived', 4);
  const paid = await executeChild(invoicePayment, {
    workflowId: invoiceFlowId(tenantSlug, proposal.proposalId),
    args: [
      {
        tenantId,
        tenantSlug,
        invoiceKey: proposal.proposalId,
        title: proposal.title,
        customer: proposal.customer,
        currency: proposal.currency,
        lines: proposal.lines,
        payment: input.payment,
        retry: input.retry,
      },
    ],
  });
  await setState('completed', '', 6);
  return { proposalId: proposal.proposalId, contract, invoices: [paid] };
}

export async function contractSigning(input: ContractSigningInput): Promise<SignedContract> {
  const { proposal, contractId, tenantId } = input;
  const flowId = workflowInfo().workflowId;
  const setState = statusKeeper(4);
  let signature: SignatureEvent | undefined;
  let heard = 0;
  setHandler(contractSigned, () => {
    heard++;
  });
  const ref = { tenantId, flowId, contractId, version: 1 };
  const contract = await contracts.generateContract({ ...ref, proposal });
  const envelope = await contracts.createEnvelope({
    ...ref,
    contractUuid: contract.contractUuid,
    sha256: contract.sha256,
    linkValidForMs: msToNumber(input.signing.deadline) * 2,
  });
  await contracts.sendSigningLink({ ...ref, envelope, proposal });
  await setState('waiting', 'awaitSignature', 3);
  // As the kernel's flow does: the answer is read from the records.
  let acted = 0;
  while (signature?.outcome !== 'signed') {
    await condition(() => heard !== acted);
    acted = heard;
    signature = await contracts.readSignature({ tenantId, envelopeId: envelope.envelopeId });
  }
  await setState('completed', '', 4);
  return {
    contractId,
    version: 1,
    documentSha256: contract.sha256,
    envelopeId: envelope.envelopeId,
    signerName: signature?.signerName,
    signedAt: signature?.occurredAt ?? '',
  };
}

export async function invoicePayment(input: InvoicePaymentInput): Promise<PaidInvoice> {
  const { tenantId, customer, title } = input;
  const flowId = workflowInfo().workflowId;
  const setState = statusKeeper(5);
  // As the kernel's flow does: a signal is news, and the money is read from the records.
  let heard = 0;
  setHandler(paymentReceived, () => {
    heard++;
  });
  let acted = 0;
  let paidSoFar = 0;
  const paid = () => paidSoFar;
  const issued = await invoices.issueInvoice({ ...input, flowId, dueInMs: msToNumber(input.payment.dueIn) });
  const ref = { tenantId, customer, title, flowId, invoice: issued };
  await invoices.createCheckoutSession({ ...ref, attempt: 1, amount: issued.total });
  await invoices.sendInvoice(ref);
  await setState('waiting', 'awaitPayment', 3);
  while (paid() < issued.total) {
    await condition(() => heard !== acted);
    acted = heard;
    paidSoFar = (await invoices.readInvoiceMoney({ tenantId, invoiceId: issued.invoiceId })).paid;
  }
  await invoices.sendReceipt({ ...ref, paid: paid() });
  await setState('completed', '', 5);
  return {
    invoiceId: issued.invoiceId,
    number: issued.number,
    total: issued.total,
    paid: paid(),
    overpaid: Math.max(0, paid() - issued.total),
  };
}

export async function supplierOrder(input: SupplierOrderInput): Promise<SupplierOrderOutcome> {
  const flowId = workflowInfo().workflowId;
  const setState = statusKeeper(4);
  let state: SupplierOrderState = 'CREATED';
  const learn = (report: { state: SupplierOrderState }) => {
    if (isAdvance(state, report.state)) state = report.state;
  };
  setHandler(supplierStatus, learn);
  const ref = {
    tenantId: input.tenantId,
    flowId,
    orderId: input.orderId,
    supplierId: input.supplier.supplierId,
    round: 1,
  };
  learn(await suppliers.submitOrder(ref));
  await setState('waiting', 'awaitShipment', 1);
  await condition(() => hasReached(state, 'SHIPPED'));
  await setState('waiting', 'awaitReceipt', 3);
  await condition(() => hasReached(state, 'RECEIVED'));
  await setState('completed', '', 4);
  return {
    orderId: input.orderId,
    state: 'RECEIVED',
    sentVia: 'api',
    supplierCode: input.supplier.code,
    rounds: 1,
  };
}
