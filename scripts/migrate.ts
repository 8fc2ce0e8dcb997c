import { createDb } from '../db/client.js';
import { migrateToLatest } from '../db/migrate.js';
import { configOrExit } from '../runtime/config.js';
import { openDatabase } from './stack/database.js';

const config = configOrExit();
const database = await openDatabase(config);
const db = createDb(database.url, 1);
try {
  const { applied } = await migrateToLatest(db);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'the database is up to date\n');
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
  await database.stop();
}
