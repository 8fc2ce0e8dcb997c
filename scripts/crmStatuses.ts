import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createDb } from '../db/client.js';
import { createCrmSync } from '../integrations/crm/crmSync.js';
import { crmThrottle } from '../integrations/crm/throttle.js';
import { configOrExit, requireSetting } from '../runtime/config.js';
import { createLogger } from '../runtime/logger.js';
import { createSecretBox } from '../runtime/secretBox.js';
import { openDatabase } from './stack/database.js';

/**
 * `npm run crm:statuses -- --source <id>`: fetches a CRM source's status dictionary now (the worker also does it
 * every CRM_STATUS_REFRESH_MINUTES, and when a delivery names a status it lacks), within the CRM's rate limit.
 */
const { values } = parseArgs({ options: { source: { type: 'string' } } });
if (!values.source) {
  process.stderr.write('usage: npm run crm:statuses -- --source <source id>\n');
  process.exit(64);
}
// Beside `npm start`, the stack's payload keys (which seal the CRM's API token) are kept in the data folder.
const stackKeys = path.join(configOrExit().dataDir, 'payload-keys');
const config = configOrExit({
  ...process.env,
  PAYLOAD_KEYS:
    process.env.PAYLOAD_KEYS ?? (existsSync(stackKeys) ? readFileSync(stackKeys, 'utf8').trim() : undefined),
});
const database = await openDatabase(config);
const db = createDb(database.url, 2);
try {
  const count = await createCrmSync({
    db,
    secrets: createSecretBox(requireSetting(config.temporal.payloadKeys, 'PAYLOAD_KEYS')),
    logger: createLogger(config, 'crm-statuses'),
    throttle: crmThrottle(db, config.crm.ratePerMinute),
    policy: config.supplierUrls,
    refreshEveryMs: config.crm.statusRefreshMs,
  }).refreshStatuses(values.source);
  process.stdout.write(`${count} statuses of source ${values.source} saved.\n`);
} catch (error) {
  process.stderr.write(`The statuses could not be fetched: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
  await database.stop();
}
