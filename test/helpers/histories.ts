import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { inject } from 'vitest';
import { ensureTool, TEMPORAL_CLI } from '../../scripts/tools.js';
import { CURRENT_BUILD } from '../../worker/builds.js';

export const HISTORIES_DIR = new URL('../histories/', import.meta.url);

/**
 * With RECORD_HISTORIES=1, saves the histories of completed flows to test/histories/{build}/{flowType}.{time}.json
 * (a test flow's under fixtures/), to be committed beside the older ones: replaying all of them in every run proves a workflow change stays
 * compatible with executions started under any earlier version.
 * They are exported by the Temporal CLI, in the same JSON the Web UI downloads.
 */
export function recordHistories(flows: Record<string, string>): void {
  if (process.env.RECORD_HISTORIES !== '1') return;
  for (const [flowType, workflowId] of Object.entries(flows)) {
    const json = exportedHistory(workflowId);
    // Minutes in the name: a version recorded later the same day sits beside the earlier one.
    const recordedAt = new Date().toISOString().slice(0, 16).replace(':', '');
    const file = new URL(`${CURRENT_BUILD}/${flowType}.${recordedAt}.json`, HISTORIES_DIR);
    mkdirSync(new URL('./', file), { recursive: true });
    writeFileSync(file, json);
  }
}

/** A flow's history as anyone with access to the namespace sees it: the CLI's JSON export, no codec. */
export function exportedHistory(workflowId: string): string {
  return execFileSync(
    ensureTool(TEMPORAL_CLI),
    [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      '--address',
      inject('temporalAddress'),
      '--output',
      'json',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
}

const EMAIL = /[\w.+-]+@[\w-]+(\.[\w-]+)*\.[A-Za-z]{2,}\b/g;
/** A signing or payment link's token, an API key, a Stripe secret, a webhook secret. */
const SECRET = /token=[\w-]{8,}|\/sign\/env-|fdk_[0-9a-f]{12}_|sk_(test|live)_\w+|whsec_\w+/g;

/**
 * What a history shows in the clear that it must not: email addresses, signing or payment tokens, keys. Every
 * string is read, and every payload that is not encrypted is decoded from its base64 first.
 */
export function secretsIn(historyJson: string): string[] {
  const texts: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') texts.push(value);
    else if (Array.isArray(value)) for (const item of value) walk(item);
    else if (value && typeof value === 'object') {
      const payload = value as { metadata?: Record<string, string>; data?: string };
      const encoding = Buffer.from(payload.metadata?.encoding ?? '', 'base64').toString();
      if (payload.metadata && typeof payload.data === 'string' && encoding !== 'binary/encrypted')
        texts.push(Buffer.from(payload.data, 'base64').toString('utf8'));
      for (const item of Object.values(value)) walk(item);
    }
  };
  walk(JSON.parse(historyJson));
  return texts.flatMap((text) =>
    [...text.matchAll(EMAIL), ...text.matchAll(SECRET)].map((match) => match[0]),
  );
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** The activity type a local activity's marker records, if the event is one. */
function localActivityOf(event: HistoryEvent): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  if (marker?.markerName !== 'core_local_activity') return undefined;
  const data = marker.details?.data?.payloads?.[0]?.data;
  return data ? JSON.parse(Buffer.from(data).toString('utf8')).activity_type : undefined;
}

/**
 * A flow's history, counted: its workflow tasks, its events, and how many publications (the kernel's local
 * activities) each workflow task ran.
 */
export async function historyCounts(
  client: Client,
  workflowId: string,
): Promise<{ workflowTasks: number; events: number; publicationsPerTask: number[] }> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const publicationsPerTask: number[] = [];
  for (const event of events) {
    if (event.workflowTaskCompletedEventAttributes) publicationsPerTask.push(0);
    else if (localActivityOf(event) === 'publishFlowChanges' && publicationsPerTask.length > 0)
      publicationsPerTask[publicationsPerTask.length - 1] = (publicationsPerTask.at(-1) ?? 0) + 1;
  }
  return { workflowTasks: publicationsPerTask.length, events: events.length, publicationsPerTask };
}

/**
 * Waits until the flow has handled its last signal and read the records (a local activity) after it: then what
 * it decided on the signal is in its state.
 */
export async function waitForReadAfterSignal(handle: WorkflowHandle): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const events = (await handle.fetchHistory()).events ?? [];
    const signalled = events.findLastIndex((event) => event.workflowExecutionSignaledEventAttributes);
    const read = events.findLastIndex(
      (event) => event.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    if (signalled >= 0 && read > signalled) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${handle.workflowId} never read the records after its last signal`);
}
