import { readdir, readFile } from 'node:fs/promises';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { WORKFLOWS_SOURCE } from '../worker/createWorker.js';
import { HISTORIES_DIR } from './helpers/histories.js';
import { quietLogger } from './helpers/temporal.js';

describe('recorded histories', () => {
  it('of every workflow type replay against the current workflow code', async () => {
    const files = (await readdir(HISTORIES_DIR)).filter((file) => file.endsWith('.json')).sort();
    expect(new Set(files.map((file) => file.split('.')[0]))).toEqual(
      new Set(['contractSigning', 'invoicePayment', 'proposalToPayment', 'supplierOrder']),
    );
    const histories = await Promise.all(
      files.map(async (file) => ({
        workflowId: file,
        history: historyFromJSON(JSON.parse(await readFile(new URL(file, HISTORIES_DIR), 'utf8'))),
      })),
    );
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowsPath: WORKFLOWS_SOURCE, bundlerOptions: { logger: quietLogger } } as never,
      histories,
    )) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
