import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** `npm run bench [name…]`: each benchmark in a process of its own, on a stack of its own, one after another. */
const ALL = [
  'apiStart',
  'throughput',
  'supplierOrders',
  'webhookIntake',
  'openFlows',
  'listing',
  'analytics',
  'console',
];
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
let failed = 0;
for (const name of chosen) {
  if (!ALL.includes(name)) throw new Error(`no benchmark ${name}; there are: ${ALL.join(', ')}`);
  process.stdout.write(`\n== ${name}\n`);
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const { status } = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
