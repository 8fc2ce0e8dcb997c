import { cp, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../runtime/payloadCodec.js';
import { FROZEN_BUILDS_DIR, frozenBuilds, WORKFLOWS_SOURCE } from './builds.js';

// Production workers load this prebuilt bundle instead of bundling the sources at every start.
const target = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));
const { code } = await bundleWorkflowCode({
  workflowsPath: WORKFLOWS_SOURCE,
  failureConverterPath: FAILURE_CONVERTER_PATH,
});
await writeFile(target, code);
process.stdout.write(`workflow bundle written to ${target} (${(code.length / 1024).toFixed(0)} KiB)\n`);

// Loaded by path, beside the compiled codec.
await cp(FAILURE_CONVERTER_PATH, new URL('../dist/runtime/failureConverter.cjs', import.meta.url));

// The frozen builds travel with the compiled worker, which looks for them beside itself.
if (frozenBuilds().length > 0) {
  await cp(FROZEN_BUILDS_DIR, new URL('../dist/worker/builds/', import.meta.url), { recursive: true });
}
