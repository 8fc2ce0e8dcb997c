import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killProcess } from '../helpers/workerProcess.js';
import { driveAll, expectNothingLostOrDoubled, type Rig, repeatedly, startRig } from './rig.js';

const FLOWS = Number(process.env.CHAOS_FLOWS ?? 100);
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('kills');
});
afterAll(() => rig?.stop());

describe('the worker killed with SIGKILL at random moments', () => {
  it(`loses and doubles nothing across ${FLOWS} flows`, async () => {
    let worker = await rig.startWorker();
    const killer = repeatedly(rig, 3_000, 10_000, async () => {
      await killProcess(worker);
      worker = await rig.startWorker();
    });
    const { flowIds, operatorDecisions } = await driveAll(rig, 'K', FLOWS);
    const kills = await killer.stop();
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ kills, operatorDecisions, ...counts }));
    expect(kills).toBeGreaterThan(0);
  });
});
