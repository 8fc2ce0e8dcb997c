import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../runtime/payloadCodec.js';
import { CURRENT_BUILD, FROZEN_BUILDS_DIR, WORKFLOWS_SOURCE } from '../worker/builds.js';

/**
 * Freezes the current build before a change its running flows could not replay: its bundle goes to
 * worker/builds/{build}.js, where workers find it and serve the flows pinned to it until they close. Then give
 * CURRENT_BUILD in worker/builds.ts its next id (README, "Upgrading").
 */
const target = new URL(`${CURRENT_BUILD}.js`, FROZEN_BUILDS_DIR);
if (existsSync(target)) {
  process.stderr.write(`${CURRENT_BUILD} is frozen already; give CURRENT_BUILD its next id first.\n`);
  process.exit(1);
}
const { code } = await bundleWorkflowCode({
  workflowsPath: WORKFLOWS_SOURCE,
  failureConverterPath: FAILURE_CONVERTER_PATH,
});
await mkdir(FROZEN_BUILDS_DIR, { recursive: true });
await writeFile(target, code);
process.stdout.write(
  `${CURRENT_BUILD} frozen in ${fileURLToPath(target)} (${(code.length / 1024).toFixed(0)} KiB).\n` +
    'Next: the new id in worker/builds.ts (CURRENT_BUILD); histories recorded from now on go to its own folder.\n',
);
