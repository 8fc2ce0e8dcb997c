import { afterAll, beforeAll, describe, it } from 'vitest';
import { driveAll, expectNothingLostOrDoubled, type Rig, startRig } from './chaos/rig.js';

// The fast case of `npm run chaos`'s webhook storm, in every test run.
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('storm-fast');
});
afterAll(() => rig?.stop());

describe('signing and Stripe webhooks delivered three times each, shuffled, some late', () => {
  it('change the world once: one signature, one payment, each email once, invoice numbers without gaps', async () => {
    await rig.startWorker();
    const { flowIds } = await driveAll(rig, 'F', 4, { deliveries: 3, spacingMs: 0 });
    await expectNothingLostOrDoubled(rig, flowIds);
  }, 180_000);
});
