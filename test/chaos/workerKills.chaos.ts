import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killProcess } from '../helpers/workerProcess.js';
import { driveProposal, expectNothingLostOrDoubled, type Rig, startOperator, startRig } from './rig.js';

const FLOWS = Number(process.env.CHAOS_FLOWS ?? 100);
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('kills');
});
afterAll(() => rig?.stop());

describe('the worker killed with SIGKILL at random moments', () => {
  it(`loses and doubles nothing across ${FLOWS} flows`, async () => {
    let worker = await rig.startWorker();
    let running = true;
    let kills = 0;
    const killer = (async () => {
      while (running) {
        await sleep(3_000 + Math.random() * 7_000);
        if (!running) break;
        await killProcess(worker);
        kills++;
        worker = await rig.startWorker();
      }
    })();
    const operator = startOperator(rig);
    const run = Date.now().toString(36);
    const flowIds = await Promise.all(
      Array.from({ length: FLOWS }, async (_, i) => {
        await sleep(i * 150);
        return driveProposal(rig, `K-${run}-${i}`);
      }),
    );
    const decisions = await operator.done(flowIds);
    running = false;
    await killer;
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ kills, operatorDecisions: decisions, ...counts }));
    expect(kills).toBeGreaterThan(0);
  });
});
