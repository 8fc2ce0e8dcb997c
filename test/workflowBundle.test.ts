import { bundleWorkflowCode } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_SOURCE } from '../worker/builds.js';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

describe('the workflow bundle', () => {
  it('carries no zod: schemas stay with the API and activities, workflows take only their types', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_SOURCE, logger: quiet });
    const modules = [...code.matchAll(/\.\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]);
    expect(modules).toContain('@temporalio/workflow');
    expect(new Set(modules)).not.toContain('zod');
    expect(code).not.toMatch(/ZodError|\$ZodType/);
  }, 120_000);
});
