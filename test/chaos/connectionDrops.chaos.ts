import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../db/client.js';
import { testEnvironment } from '../helpers/config.js';
import {
  driveProposal,
  expectNothingLostOrDoubled,
  type Rig,
  retrying,
  startOperator,
  startRig,
} from './rig.js';

const FLOWS = Number(process.env.CHAOS_FLOWS ?? 100);
let rig: Rig;

beforeAll(async () => {
  rig = await startRig('pg-drops');
});
afterAll(() => rig?.stop());

describe('PostgreSQL dropping every connection mid-run', () => {
  it(`loses and doubles nothing across ${FLOWS} flows`, async () => {
    await rig.startWorker();
    const admin = createDb(testEnvironment().DATABASE_URL ?? '', 1);
    let running = true;
    let drops = 0;
    let dropped = 0;
    // Every connection to the run's database but the dropper's own: the API's, the worker's, the harness's.
    const dropper = (async () => {
      while (running) {
        await sleep(2_000 + Math.random() * 4_000);
        if (!running) break;
        const { rows } = await sql<{ pid: number }>`
          select pg_terminate_backend(pid) as pid from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()`.execute(admin);
        drops++;
        dropped += rows.length;
      }
    })();
    const operator = startOperator(rig);
    const run = Date.now().toString(36);
    const flowIds = await Promise.all(
      Array.from({ length: FLOWS }, async (_, i) => {
        await sleep(i * 150);
        return retrying(() => driveProposal(rig, `D-${run}-${i}`));
      }),
    );
    const decisions = await operator.done(flowIds);
    running = false;
    await dropper;
    await admin.destroy();
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ drops, connectionsDropped: dropped, operatorDecisions: decisions, ...counts }));
    expect(drops).toBeGreaterThan(0);
  });
});
