import { afterAll, beforeAll, describe, it } from 'vitest';
import { driveAll, expectNothingLostOrDoubled, type Rig, startRig } from './rig.js';

const FLOWS = Number(process.env.CHAOS_FLOWS ?? 100);
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('storm');
});
afterAll(() => rig?.stop());

describe('every signing and Stripe webhook delivered three times, shuffled, some late', () => {
  it(`changes the world once across ${FLOWS} flows`, async () => {
    await rig.startWorker();
    const { flowIds, operatorDecisions } = await driveAll(rig, 'S', FLOWS, { deliveries: 3, spacingMs: 100 });
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ deliveriesPerEvent: 3, operatorDecisions, ...counts }));
  });
});
