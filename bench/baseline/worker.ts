import { fileURLToPath } from 'node:url';
import { NativeConnection } from '@temporalio/worker';
import { configOrExit } from '../../runtime/config.js';
import { onShutdown } from '../../runtime/lifecycle.js';
import { createLogger } from '../../runtime/logger.js';
import { temporalConnectionOptions, temporalDataConverter } from '../../runtime/temporal.js';
import { createFlowdeskWorker } from '../../worker/createWorker.js';

// The baseline's worker: Flowdesk's worker factory and settings, the bare workflows, activities that do nothing.
const config = configOrExit();
const logger = createLogger(config, 'baseline-worker');
const connection = await NativeConnection.connect(temporalConnectionOptions(config));
const worker = await createFlowdeskWorker({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.temporal.taskQueue,
  dataConverter: temporalDataConverter(config),
  activities: { nothing: async () => undefined },
  workflows: { workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)) },
});
const running = worker.run();
onShutdown(logger, async () => {
  worker.shutdown();
  await running;
  await connection.close();
});
process.send?.({ type: 'ready', service: 'baseline-worker' });
