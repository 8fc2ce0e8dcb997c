import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { approvalRoundTrip, approve, oneSlowStep } from './fixtures/workflows.js';
import { quietLogger, startTestWorker, type TestWorker } from './helpers/temporal.js';

const FIXTURE_WORKFLOWS = fileURLToPath(new URL('./fixtures/workflows.ts', import.meta.url));

describe('worker against the real Temporal server', () => {
  const workers: TestWorker[] = [];
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
  });

  it('runs a workflow that waits for a signal and calls an activity', async () => {
    const calls: string[] = [];
    const w = await startTestWorker({
      workflows: { workflowsPath: FIXTURE_WORKFLOWS },
      activities: {
        recordApproval: async (document: string, approver: string) => {
          calls.push(`${document}/${approver}`);
          return `${document} approved by ${approver}`;
        },
      },
    });
    workers.push(w);
    const handle = await w.client.workflow.start(approvalRoundTrip, {
      taskQueue: w.taskQueue,
      workflowId: `approval-${w.taskQueue}`,
      args: ['contract-7'],
    });
    await handle.signal(approve, 'Dana');
    expect(await handle.result()).toBe('contract-7 approved by Dana');
    expect(calls).toEqual(['contract-7/Dana']);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.activityTaskCompletedEventAttributes)).toHaveLength(1);
  });

  it('shuts down gracefully: an in-flight activity finishes once and the flow completes on the next worker', async () => {
    let started = 0;
    let finished = 0;
    let signalStarted: () => void = () => {};
    const activityStarted = new Promise<void>((resolve) => {
      signalStarted = resolve;
    });
    const activities = {
      takeTime: async (ms: number) => {
        started++;
        signalStarted();
        await new Promise((resolve) => setTimeout(resolve, ms));
        finished++;
        return `done after ${ms} ms`;
      },
    };
    const first = await startTestWorker({
      workflows: { workflowsPath: FIXTURE_WORKFLOWS },
      activities,
      shutdownGraceSeconds: 10,
    });
    const handle = await first.client.workflow.start(oneSlowStep, {
      taskQueue: first.taskQueue,
      workflowId: `slow-${first.taskQueue}`,
      args: [1_500],
    });
    await activityStarted;
    first.worker.shutdown();
    await first.running;
    expect({ started, finished }).toEqual({ started: 1, finished: 1 });
    await first.stop();

    const second = await startTestWorker({
      workflows: { workflowsPath: FIXTURE_WORKFLOWS },
      activities,
      taskQueue: first.taskQueue,
    });
    workers.push(second);
    expect(await second.client.workflow.getHandle(handle.workflowId).result()).toBe('done after 1500 ms');
    expect({ started, finished }).toEqual({ started: 1, finished: 1 });
  });

  it('runs workflows from a prebuilt bundle, as production workers do', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'flowdesk-bundle-'));
    try {
      const bundlePath = path.join(dir, 'workflow-bundle.js');
      const { code } = await bundleWorkflowCode({ workflowsPath: FIXTURE_WORKFLOWS, logger: quietLogger });
      await writeFile(bundlePath, code);
      const w = await startTestWorker({
        workflows: { bundlePath },
        activities: { takeTime: async (ms: number) => `bundled ${ms}` },
      });
      workers.push(w);
      const result = await w.client.workflow.execute(oneSlowStep, {
        taskQueue: w.taskQueue,
        workflowId: `bundled-${w.taskQueue}`,
        args: [5],
      });
      expect(result).toBe('bundled 5');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
