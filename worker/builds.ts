import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The build of the workflow code in this checkout, as Temporal's Worker Versioning knows it: every flow is pinned
 * to the build that started it and runs on that build's workers until it closes.
 *
 * A compatible change (one that every recorded history in `test/histories/{build}` still replays) keeps the id, and
 * uses `patched()` where it must. A change that running flows would replay differently gets a new id, and the build
 * it replaces is frozen first with `npm run freeze-build`: its bundle, kept in `worker/builds/`, serves the flows
 * pinned to it until they have all closed (README, "Upgrading").
 */
export const CURRENT_BUILD = 'flowdesk-3';

export const WORKFLOWS_SOURCE = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/** Written by `npm run build`; the compiled worker (dist/worker) finds it one level up. */
export const WORKFLOW_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
/** Earlier builds, frozen as bundles, one file per build id. */
export const FROZEN_BUILDS_DIR = new URL('./builds/', import.meta.url);

export type WorkflowCode = { workflowsPath: string } | { bundlePath: string };

export interface WorkflowBuild {
  buildId: string;
  workflows: WorkflowCode;
  /** A frozen build only finishes what it started: it is never made current. */
  frozen: boolean;
}

/** The current build: the prebuilt bundle when it exists (production), else the TypeScript sources (development). */
export function currentBuild(): WorkflowBuild {
  return {
    buildId: CURRENT_BUILD,
    workflows: existsSync(WORKFLOW_BUNDLE)
      ? { bundlePath: WORKFLOW_BUNDLE }
      : { workflowsPath: WORKFLOWS_SOURCE },
    frozen: false,
  };
}

/** The frozen builds a checkout carries, oldest first (ids sort by their number). */
export function frozenBuilds(dir: URL = FROZEN_BUILDS_DIR): WorkflowBuild[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.js'))
    .map((file) => ({
      buildId: file.slice(0, -'.js'.length),
      workflows: { bundlePath: fileURLToPath(new URL(file, dir)) },
      frozen: true,
    }))
    .sort((a, b) => a.buildId.localeCompare(b.buildId, 'en', { numeric: true }));
}
