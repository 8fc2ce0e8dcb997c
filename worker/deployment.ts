import { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from '../runtime/logger.js';
import type { WorkflowBuild } from './builds.js';
import { createFlowdeskWorker, type FlowdeskWorkerOptions } from './createWorker.js';

export interface WorkflowBuildsOptions
  extends Pick<FlowdeskWorkerOptions, 'activities' | 'dataConverter' | 'shutdownGraceSeconds' | 'tuning'> {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deploymentName: string;
  current: WorkflowBuild;
  /** Earlier builds; each one that still has open flows gets a worker of its own. */
  frozen: readonly WorkflowBuild[];
  /** Make the current build the deployment's current version, so new flows start on it. */
  promote: boolean;
  logger: Logger;
  /** How long promotion waits for the server to know this build (it learns of it from the first poll). */
  promoteWithinMs?: number;
}

export interface RunningBuilds {
  /** The builds this process serves, the current one last, with the open flows each had at start. */
  builds: Array<{ buildId: string; openFlows: number }>;
  /** Settles when every worker has stopped; rejects when one fails. */
  running: Promise<void>;
  shutdown(): void;
}

/**
 * One worker per build this process serves, all on the same task queue as versions of one Worker Deployment: the
 * current build, and every frozen build that flows are still pinned to. A frozen build that has drained is not
 * started again.
 */
export async function startWorkflowBuilds(options: WorkflowBuildsOptions): Promise<RunningBuilds> {
  const client = new Client({ connection: options.connection, namespace: options.namespace });
  const builds: RunningBuilds['builds'] = [];
  const workers: Worker[] = [];
  for (const build of [...options.frozen, options.current]) {
    const openFlows = await countOpenFlows(client, options.deploymentName, build.buildId);
    if (build.frozen && openFlows === 0) continue;
    workers.push(
      await createFlowdeskWorker({
        ...options,
        workflows: build.workflows,
        deployment: { name: options.deploymentName, buildId: build.buildId },
      }),
    );
    builds.push({ buildId: build.buildId, openFlows });
  }
  const running = Promise.all(workers.map((worker) => worker.run())).then(() => undefined);
  if (options.promote) {
    try {
      await promote(client, options);
    } catch (error) {
      for (const worker of workers) worker.shutdown();
      await running.catch(() => undefined);
      throw error;
    }
  }
  return {
    builds,
    running,
    shutdown: () => {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    },
  };
}

/** Flows still open on a build: those pinned to it, which only its own workers may run. */
export async function countOpenFlows(
  client: Client,
  deploymentName: string,
  buildId: string,
): Promise<number> {
  const { count } = await client.workflow.count(
    `TemporalWorkerDeploymentVersion = "${deploymentName}:${buildId}" AND ExecutionStatus = "Running"`,
  );
  return count;
}

/**
 * Makes the current build the deployment's current version, unless a build this checkout does not know (a newer
 * one, deployed elsewhere) is current already: a stale worker starting must not take new flows back.
 */
async function promote(client: Client, options: WorkflowBuildsOptions): Promise<void> {
  const { deploymentName, namespace, current, frozen, logger } = options;
  const service = client.workflowService;
  const currentNow = await currentVersion(client, deploymentName);
  if (currentNow === current.buildId) return;
  const known = new Set(frozen.map((build) => build.buildId));
  if (currentNow !== undefined && !known.has(currentNow)) {
    logger.warn(
      { deploymentName, current: currentNow, thisBuild: current.buildId },
      'another build is current and this checkout does not know it; not taking new flows from it',
    );
    return;
  }
  const deadline = Date.now() + (options.promoteWithinMs ?? 30_000);
  for (;;) {
    try {
      await service.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName,
        buildId: current.buildId,
        identity: `flowdesk worker ${current.buildId}`,
      });
      logger.info(
        { deploymentName, buildId: current.buildId, previous: currentNow ?? null },
        'build is current',
      );
      return;
    } catch (error) {
      // The server knows a version from its workers' first poll, a moment after they start.
      if (!isNotFound(error) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/** The build new flows start on now; undefined when none is set (or the deployment does not exist yet). */
export async function currentVersion(client: Client, deploymentName: string): Promise<string | undefined> {
  try {
    const { workerDeploymentInfo } = await client.workflowService.describeWorkerDeployment({
      namespace: client.options.namespace,
      deploymentName,
    });
    return workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId ?? undefined;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

const GRPC_NOT_FOUND = 5;
const GRPC_FAILED_PRECONDITION = 9;

/**
 * The server does not know the deployment or version yet: NOT_FOUND, or FAILED_PRECONDITION ("no Worker
 * Deployment found … does your Worker Deployment have pollers?") before its workers' first poll has registered.
 */
function isNotFound(error: unknown): boolean {
  const { code, cause, message } = error as { code?: number; cause?: unknown; message?: string };
  if (code === GRPC_NOT_FOUND) return true;
  if (code === GRPC_FAILED_PRECONDITION && /not found|no worker deployment found/i.test(message ?? ''))
    return true;
  return cause !== undefined && isNotFound(cause);
}
