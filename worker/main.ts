import { Client } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { startFlowStatusRelay } from '../db/analytics/flowStatuses.js';
import { createDb } from '../db/client.js';
import { createCrmSync } from '../integrations/crm/crmSync.js';
import { crmThrottle } from '../integrations/crm/throttle.js';
import { configOrExit, requireSetting } from '../runtime/config.js';
import { onShutdown } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { createSecretBox } from '../runtime/secretBox.js';
import { temporalConnectionOptions, temporalDataConverter } from '../runtime/temporal.js';
import { currentBuild, frozenBuilds } from './builds.js';
import { startWorkflowBuilds } from './deployment.js';
import { temporalLogger } from './logging.js';
import { createReconciler } from './reconciler.js';

const config = configOrExit();
const logger = createLogger(config, 'worker');

// Temporal's own SDK metrics (task latencies, slots, sticky cache, activity failures) in Prometheus format.
Runtime.install({
  logger: temporalLogger(logger),
  telemetryOptions: {
    metrics: { prometheus: { bindAddress: `${config.api.host}:${config.worker.metricsPort}` } },
  },
  // The worker shuts down through onShutdown below, so the SDK must not also react to the signals.
  shutdownSignals: [],
});

const db = createDb(requireSetting(config.database.url, 'DATABASE_URL'), config.database.poolSize);
const dataConverter = temporalDataConverter(config);
const connection = await NativeConnection.connect(temporalConnectionOptions(config));
const current = currentBuild();
const workers = await startWorkflowBuilds({
  connection,
  namespace: config.temporal.namespace,
  taskQueue: config.temporal.taskQueue,
  deploymentName: config.temporal.deploymentName,
  current,
  frozen: frozenBuilds(),
  promote: config.worker.promote,
  activities: createActivities({ config, db, logger }),
  dataConverter,
  shutdownGraceSeconds: config.worker.shutdownGraceSeconds,
  tuning: { maxCachedWorkflows: config.worker.maxCachedWorkflows },
  logger,
});

const stopReconciling = createReconciler({
  db,
  client: new Client({ connection, namespace: config.temporal.namespace, dataConverter }),
  taskQueue: config.temporal.taskQueue,
  logger,
}).start(config.worker.reconcileEveryMs);

const stopCrmSync = createCrmSync({
  db,
  secrets: createSecretBox(requireSetting(config.temporal.payloadKeys, 'PAYLOAD_KEYS')),
  logger,
  throttle: crmThrottle(db, config.crm.ratePerMinute),
  policy: config.supplierUrls,
  refreshEveryMs: config.crm.statusRefreshMs,
}).start(config.crm.syncEveryMs);

const stopRelayingStatuses = startFlowStatusRelay(db, config.flowStatusRelayMs, (error) =>
  logger.warn({ err: error }, 'flow status relay pass failed'),
);

const { running } = workers;
onShutdown(logger, async () => {
  await stopReconciling();
  await stopCrmSync();
  await stopRelayingStatuses();
  // In-flight activities get the grace period to finish, then are cancelled; run() settles after that.
  workers.shutdown();
  await running;
  await db.destroy();
  await connection.close();
});

logger.info(
  {
    taskQueue: config.temporal.taskQueue,
    namespace: config.temporal.namespace,
    deployment: config.temporal.deploymentName,
    builds: workers.builds,
    workflows: 'bundlePath' in current.workflows ? 'prebuilt bundle' : 'sources',
    metrics: `http://${config.api.host}:${config.worker.metricsPort}/metrics`,
  },
  'worker running',
);
process.send?.({ type: 'ready', service: 'worker' });

try {
  await running;
} catch (error) {
  logger.fatal({ err: error }, 'worker failed');
  process.exit(1);
}
