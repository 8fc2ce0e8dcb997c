import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { FLOW_TYPES } from '../api/flowTypes.js';
import { CURRENT_BUILD, currentBuild, frozenBuilds } from '../worker/builds.js';
import { testDataConverter } from './helpers/config.js';
import { HISTORIES_DIR } from './helpers/histories.js';
import { quietLogger } from './helpers/temporal.js';

/** Every flow type the API runs: a new one without recorded histories fails here. */
const RECORDED_TYPES = FLOW_TYPES.map((type) => type.definition.type);

/**
 * Histories are kept per build (test/histories/{build}/): each replays against the code of the build that runs
 * its flows to their end, the current sources or a frozen bundle.
 */
describe('recorded histories', () => {
  it('are kept only for builds a worker still runs, and the current build has one of every type', async () => {
    const folders = (await readdir(HISTORIES_DIR, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    const served = [CURRENT_BUILD, ...frozenBuilds().map((build) => build.buildId)];
    expect(folders.filter((folder) => !served.includes(folder))).toEqual([]);
    const current = await historyFiles(CURRENT_BUILD);
    expect(new Set(current.map((file) => file.split('.')[0]))).toEqual(new Set(RECORDED_TYPES));
  });

  for (const build of [currentBuild(), ...frozenBuilds()]) {
    it(`of build ${build.buildId} replay against its code`, async () => {
      const files = await historyFiles(build.buildId);
      const histories = await Promise.all(
        files.map(async (file) => ({
          workflowId: file,
          history: historyFromJSON(
            JSON.parse(await readFile(new URL(`${build.buildId}/${file}`, HISTORIES_DIR), 'utf8')),
          ),
        })),
      );
      const code =
        'bundlePath' in build.workflows
          ? { workflowBundle: { codePath: build.workflows.bundlePath } }
          : { workflowsPath: build.workflows.workflowsPath };
      const failures: string[] = [];
      for await (const result of Worker.runReplayHistories(
        { ...code, dataConverter: testDataConverter(), bundlerOptions: { logger: quietLogger } } as never,
        histories,
      )) {
        if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
      }
      expect(failures).toEqual([]);
    });
  }

  it(`of the kernel's test flows (a set of children) replay against build ${CURRENT_BUILD}`, async () => {
    const folder = new URL(`${CURRENT_BUILD}/fixtures/`, HISTORIES_DIR);
    const files = (await readdir(folder)).filter((file) => file.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    const histories = await Promise.all(
      files.map(async (file) => ({
        workflowId: file,
        history: historyFromJSON(JSON.parse(await readFile(new URL(file, folder), 'utf8'))),
      })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      {
        workflowsPath: fileURLToPath(new URL('./fixtures/childSet.ts', import.meta.url)),
        dataConverter: testDataConverter(),
        bundlerOptions: { logger: quietLogger },
      } as never,
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});

async function historyFiles(buildId: string): Promise<string[]> {
  const files = await readdir(new URL(`${buildId}/`, HISTORIES_DIR)).catch(() => []);
  return files.filter((file) => file.endsWith('.json')).sort();
}
