import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { WORKFLOWS_SOURCE } from '../../worker/builds.js';
import { createFlowdeskWorker, type FlowdeskWorkerOptions } from '../../worker/createWorker.js';
import { testDataConverter } from './config.js';

// Worker lifecycle chatter at INFO drowns the test report; warnings and errors still show.
export const quietLogger = new DefaultLogger('WARN');
Runtime.install({ logger: quietLogger });

export interface TestWorker {
  worker: Worker;
  taskQueue: string;
  client: Client;
  /** Settles when the worker has stopped. */
  running: Promise<void>;
  stop(): Promise<void>;
}

export async function temporalClient(): Promise<Client> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  return new Client({
    connection,
    namespace: inject('temporalNamespace'),
    dataConverter: testDataConverter(),
  });
}

/**
 * A real worker on its own task queue against the run's Temporal server, with the given activities and the
 * given workflows (Flowdesk's own sources by default).
 */
export async function startTestWorker(
  options: {
    activities?: object;
    workflows?: FlowdeskWorkerOptions['workflows'];
    taskQueue?: string;
    shutdownGraceSeconds?: number;
  } = {},
): Promise<TestWorker> {
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const worker = await createFlowdeskWorker({
    connection,
    namespace: inject('temporalNamespace'),
    taskQueue,
    activities: options.activities ?? {},
    dataConverter: testDataConverter(),
    shutdownGraceSeconds: options.shutdownGraceSeconds,
    workflows: options.workflows ?? { workflowsPath: WORKFLOWS_SOURCE },
  });
  const running = worker.run();
  const client = await temporalClient();
  return {
    worker,
    taskQueue,
    client,
    running,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
    },
  };
}
