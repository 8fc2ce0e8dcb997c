import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../db/client.js';
import { testEnvironment } from '../helpers/config.js';
import { driveAll, expectNothingLostOrDoubled, type Rig, repeatedly, startRig } from './rig.js';

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
    let connectionsDropped = 0;
    // Every connection to the run's database but the dropper's own: the API's, the worker's, the harness's.
    const dropper = repeatedly(rig, 2_000, 6_000, async () => {
      const { rows } = await sql<{ pid: number }>`
        select pg_terminate_backend(pid) as pid from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`.execute(admin);
      connectionsDropped += rows.length;
    });
    const { flowIds, operatorDecisions } = await driveAll(rig, 'D', FLOWS, { retry: true });
    const drops = await dropper.stop();
    await admin.destroy();
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ drops, connectionsDropped, operatorDecisions, ...counts }));
    expect(drops).toBeGreaterThan(0);
  });
});
