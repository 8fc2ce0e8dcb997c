import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles over latencies in milliseconds (high-resolution, fractional). */
export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    n: sorted.length,
    min: round(sorted[0] ?? 0),
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1) ?? 0),
    mean: round(sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)),
  };
}

/** Runs `task` `total` times with at most `concurrency` in flight; returns each call's latency in ms. */
export async function measure(total: number, concurrency: number, task: (i: number) => Promise<unknown>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await task(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

export interface Report {
  name: string;
  machine: string;
  startedAt: string;
  rows: Record<string, unknown>[];
  notes: string[];
}

/** Writes `bench/results/<name>.json` and `.md`, so a run's figures can be compared with the next. */
export async function writeReport(report: Report): Promise<string> {
  const dir = path.join(import.meta.dirname, '..', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, `${report.name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  const columns = Object.keys(report.rows[0] ?? {});
  const markdown = [
    `# ${report.name}`,
    '',
    `${report.machine}, ${report.startedAt}`,
    '',
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...report.rows.map((row) => `| ${columns.map((c) => String(row[c])).join(' | ')} |`),
    '',
    ...report.notes.map((note) => `- ${note}`),
    '',
  ].join('\n');
  const file = path.join(dir, `${report.name}.md`);
  await writeFile(file, markdown);
  return markdown;
}
