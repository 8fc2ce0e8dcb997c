import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

export const WORKFLOWS_SOURCE = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Written by `npm run build`; the compiled worker (dist/worker) finds it one level up. */
export const WORKFLOW_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

export interface FlowdeskWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: object;
  shutdownGraceSeconds?: number;
  /** Defaults to the prebuilt bundle when it exists (production), else the TypeScript sources (development). */
  workflows?: { workflowsPath: string } | { bundlePath: string };
  tuning?: Pick<
    WorkerOptions,
    'maxCachedWorkflows' | 'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions'
  >;
}

export function workflowSource(): { workflowsPath: string } | { bundlePath: string } {
  return existsSync(WORKFLOW_BUNDLE) ? { bundlePath: WORKFLOW_BUNDLE } : { workflowsPath: WORKFLOWS_SOURCE };
}

export async function createFlowdeskWorker(options: FlowdeskWorkerOptions): Promise<Worker> {
  const source = options.workflows ?? workflowSource();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...('bundlePath' in source
      ? { workflowBundle: { codePath: source.bundlePath } }
      : { workflowsPath: source.workflowsPath }),
    shutdownGraceTime: `${options.shutdownGraceSeconds ?? 10}s`,
    ...options.tuning,
  });
}
