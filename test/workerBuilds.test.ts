import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { frozenBuilds, type WorkflowBuild } from '../worker/builds.js';
import { currentVersion, startWorkflowBuilds } from '../worker/deployment.js';
import { testDataConverter } from './helpers/config.js';
import { quietLogger, temporalClient } from './helpers/temporal.js';

const source = (name: string) => fileURLToPath(new URL(`./fixtures/builds/${name}.ts`, import.meta.url));
const before: WorkflowBuild = {
  buildId: 'b-1',
  workflows: { workflowsPath: source('before') },
  frozen: false,
};
const after: WorkflowBuild = { buildId: 'b-2', workflows: { workflowsPath: source('after') }, frozen: false };

describe('worker builds (Worker Versioning)', () => {
  let connection: NativeConnection;
  let client: Client;
  let frozenDir: string;
  const deploymentName = `flowdesk-test-${randomUUID().slice(0, 8)}`;
  const taskQueue = `builds-${randomUUID()}`;
  const warnings: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void warnings.push(line) });

  const serve = (current: WorkflowBuild, frozen: WorkflowBuild[] = []) =>
    startWorkflowBuilds({
      connection,
      namespace: inject('temporalNamespace'),
      taskQueue,
      deploymentName,
      current,
      frozen,
      promote: true,
      activities: {},
      dataConverter: testDataConverter(),
      logger,
    });
  const start = (id: string) =>
    client.workflow.start('greeting', { taskQueue, workflowId: `${id}-${randomUUID()}` });
  const openOn = async (buildId: string) =>
    (
      await client.workflow.count(
        `TemporalWorkerDeploymentVersion = "${deploymentName}:${buildId}" AND ExecutionStatus = "Running"`,
      )
    ).count;

  beforeAll(async () => {
    connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    client = await temporalClient();
    frozenDir = await mkdtemp(path.join(tmpdir(), 'flowdesk-builds-'));
    // What `npm run freeze-build` does to the build being replaced.
    const { code } = await bundleWorkflowCode({ workflowsPath: source('before'), logger: quietLogger });
    await writeFile(path.join(frozenDir, 'b-1.js'), code);
  });
  afterAll(async () => {
    await client.connection.close();
    await connection.close();
    await rm(frozenDir, { recursive: true, force: true });
  });

  it('keeps a flow on the build that started it, starts new ones on the new build, and retires a drained build', async () => {
    const first = await serve(before);
    expect(await currentVersion(client, deploymentName)).toBe('b-1');
    const early = await start('early');
    await expect.poll(() => openOn('b-1'), { timeout: 10_000 }).toBe(1);
    first.shutdown();
    await first.running;

    // The upgrade: the next build is current, and the frozen earlier build serves what it started.
    const frozen = frozenBuilds(pathToFileURL(`${frozenDir}/`));
    expect(frozen.map((build) => build.buildId)).toEqual(['b-1']);
    const second = await serve(after, frozen);
    expect(second.builds).toEqual([
      { buildId: 'b-1', openFlows: 1 },
      { buildId: 'b-2', openFlows: 0 },
    ]);
    expect(await currentVersion(client, deploymentName)).toBe('b-2');
    const late = await start('late');
    await early.signal('proceed');
    await late.signal('proceed');
    expect(await early.result()).toBe('before');
    expect(await late.result()).toBe('after');
    const pinnedTo = async (handle: typeof early) =>
      (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;
    expect(await pinnedTo(early)).toBe('b-1');
    expect(await pinnedTo(late)).toBe('b-2');
    second.shutdown();
    await second.running;

    // Drained: the frozen build is not started again.
    await expect.poll(() => openOn('b-1'), { timeout: 10_000 }).toBe(0);
    const third = await serve(after, frozen);
    expect(third.builds).toEqual([{ buildId: 'b-2', openFlows: 0 }]);
    third.shutdown();
    await third.running;

    // A stale checkout's worker (it knows nothing of b-2) starting again does not take new flows back.
    const stale = await serve(before);
    expect(await currentVersion(client, deploymentName)).toBe('b-2');
    expect(warnings.join('')).toContain('another build is current');
    stale.shutdown();
    await stale.running;
  });
});
