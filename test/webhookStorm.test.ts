import { afterAll, beforeAll, describe, it } from 'vitest';
import { driveProposal, expectNothingLostOrDoubled, type Rig, startOperator, startRig } from './chaos/rig.js';

// The fast case of `npm run chaos`'s webhook storm, in every test run.
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('storm-fast');
});
afterAll(() => rig?.stop());

describe('signing and Stripe webhooks delivered three times each, shuffled, some late', () => {
  it('change the world once: one signature, one payment, each email once, invoice numbers without gaps', async () => {
    await rig.startWorker();
    const operator = startOperator(rig);
    const run = Date.now().toString(36);
    const flowIds = await Promise.all(
      Array.from({ length: 4 }, (_, i) => driveProposal(rig, `F-${run}-${i}`, 3)),
    );
    await operator.done(flowIds);
    await expectNothingLostOrDoubled(rig, flowIds);
  }, 180_000);
});
