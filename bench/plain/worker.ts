import { fileURLToPath } from 'node:url';
import { NativeConnection } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { createDb } from '../../db/client.js';
import { configOrExit, requireSetting } from '../../runtime/config.js';
import { onShutdown } from '../../runtime/lifecycle.js';
import { createLogger } from '../../runtime/logger.js';
import { temporalConnectionOptions, temporalDataConverter } from '../../runtime/temporal.js';
import { createFlowdeskWorker } from '../../worker/createWorker.js';
import { plainActivities } from './activities.js';

// The plain baseline's worker: Flowdesk's activities and worker settings, the hand-written workflows.
const config = configOrExit();
const logger = createLogger(config, 'plain-worker');
const db = createDb(requireSetting(config.database.url, 'DATABASE_URL'), config.database.poolSize);
const connection = await NativeConnection.connect(temporalConnectionOptions(config));
const worker = await createFlowdeskWorker({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.temporal.taskQueue,
  dataConverter: temporalDataConverter(config),
  activities: { ...createActivities({ config, db, logger }), ...plainActivities({ db }) },
  workflows: { workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)) },
  tuning: { maxCachedWorkflows: config.worker.maxCachedWorkflows },
});
const running = worker.run();
onShutdown(logger, async () => {
  worker.shutdown();
  await running;
  await db.destroy();
  await connection.close();
});
process.send?.({ type: 'ready', service: 'plain-worker' });
