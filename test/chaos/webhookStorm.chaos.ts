import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { driveProposal, expectNothingLostOrDoubled, type Rig, startOperator, startRig } from './rig.js';

const FLOWS = Number(process.env.CHAOS_FLOWS ?? 100);
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('storm');
});
afterAll(() => rig?.stop());

describe('every signing and Stripe webhook delivered three times, shuffled, some late', () => {
  it(`changes the world once across ${FLOWS} flows`, async () => {
    await rig.startWorker();
    const operator = startOperator(rig);
    const run = Date.now().toString(36);
    const flowIds = await Promise.all(
      Array.from({ length: FLOWS }, async (_, i) => {
        await sleep(i * 100);
        return driveProposal(rig, `S-${run}-${i}`, 3);
      }),
    );
    const decisions = await operator.done(flowIds);
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ deliveriesPerEvent: 3, operatorDecisions: decisions, ...counts }));
  });
});
