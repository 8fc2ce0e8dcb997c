import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningTemporal, startTemporalDevServer } from '../../scripts/stack/temporal.js';
import { freePort } from '../helpers/ports.js';
import { driveAll, expectNothingLostOrDoubled, type Rig, repeatedly, startRig } from './rig.js';

const FLOWS = Number(process.env.CHAOS_FLOWS ?? 100);
let rig: Rig;
let temporal: RunningTemporal;
let dataDir: string;
let ports: { port: number; uiPort: number };

/** A dev server of this scenario's own, with its state in a file, so it can be restarted and find it again. */
const startTemporal = () =>
  startTemporalDevServer({
    ...ports,
    namespace: 'default',
    dataDir,
    logFile: path.join(dataDir, 'temporal.log'),
  });

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'flowdesk-chaos-temporal-'));
  ports = { port: await freePort(), uiPort: await freePort() };
  temporal = await startTemporal();
  rig = await startRig('temporal-restart', { temporalAddress: temporal.address });
});
afterAll(async () => {
  await rig?.stop();
  await temporal?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the Temporal server restarted mid-run', () => {
  it(`loses and doubles nothing across ${FLOWS} flows`, async () => {
    await rig.startWorker();
    const restarter = repeatedly(rig, 8_000, 16_000, async () => {
      await temporal.stop();
      await sleep(1_000);
      temporal = await startTemporal();
    });
    const { flowIds, operatorDecisions } = await driveAll(rig, 'T', FLOWS, { retry: true });
    const restarts = await restarter.stop();
    const counts = await expectNothingLostOrDoubled(rig, flowIds);
    rig.log(JSON.stringify({ restarts, operatorDecisions, ...counts }));
    expect(restarts).toBeGreaterThan(0);
  });
});
