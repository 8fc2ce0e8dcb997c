import type { Db } from '../../db/client.js';

/** The plain baseline's bookkeeping: one row update per change of state, as the reference app keeps its status. */
export function plainActivities({ db }: { db: Db }) {
  return {
    async recordFlowState(input: {
      flowId: string;
      state: string;
      step: string;
      done: number;
      total: number;
    }) {
      const now = new Date();
      await db
        .updateTable('flows')
        .set({
          state: input.state,
          current_step: input.step || null,
          progress_done: input.done,
          progress_total: input.total,
          updated_at: now,
          ended_at: input.state === 'completed' ? now : null,
        })
        .where('id', '=', input.flowId)
        .execute();
    },
  };
}

export type PlainActivities = ReturnType<typeof plainActivities>;
