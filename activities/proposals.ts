import type { Db } from '../db/client.js';
import { appendEvent } from '../db/events.js';
import { SYSTEM } from '../domain/flow.js';
import { type Proposal, proposalTotal } from '../domain/proposal.js';

export function proposalActivities({ db }: { db: Db }) {
  return {
    /** The proposal's acceptance is the flow's first fact; recorded once whatever the retries. */
    async acceptProposal(input: { tenantId: string; flowId: string; proposal: Proposal }): Promise<void> {
      await appendEvent(db, {
        tenantId: input.tenantId,
        type: 'proposal.accepted',
        actor: SYSTEM,
        entity: { type: 'proposal', id: input.proposal.proposalId },
        flowId: input.flowId,
        payload: { proposal: input.proposal, total: proposalTotal(input.proposal) },
        idempotencyKey: `${input.flowId}/proposal.accepted`,
      });
    },
  };
}

export type ProposalActivities = ReturnType<typeof proposalActivities>;
