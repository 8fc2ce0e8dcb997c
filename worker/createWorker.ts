import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { FlowdeskDataConverter } from '../runtime/payloadCodec.js';
import { currentBuild, type WorkflowCode } from './builds.js';

export interface FlowdeskWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: object;
  /** How payloads are written to Temporal: encrypted (runtime/payloadCodec.ts). */
  dataConverter: FlowdeskDataConverter;
  shutdownGraceSeconds?: number;
  /** The current build's code when absent. */
  workflows?: WorkflowCode;
  /**
   * The Worker Deployment version this worker polls as: the flows it starts are pinned to it. Without it the
   * worker is unversioned (tests that exercise one build on a task queue of their own).
   */
  deployment?: { name: string; buildId: string };
  tuning?: Pick<
    WorkerOptions,
    'maxCachedWorkflows' | 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'
  >;
}

export async function createFlowdeskWorker(options: FlowdeskWorkerOptions): Promise<Worker> {
  const source = options.workflows ?? currentBuild().workflows;
  const { deployment } = options;
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    dataConverter: options.dataConverter,
    ...('bundlePath' in source
      ? { workflowBundle: { codePath: source.bundlePath } }
      : { workflowsPath: source.workflowsPath }),
    ...(deployment && {
      workerDeploymentOptions: {
        useWorkerVersioning: true,
        version: { deploymentName: deployment.name, buildId: deployment.buildId },
        // A flow runs to its end on the code that started it; a redesign never meets an old history.
        defaultVersioningBehavior: 'PINNED',
      },
    }),
    shutdownGraceTime: `${options.shutdownGraceSeconds ?? 10}s`,
    ...options.tuning,
  });
}
