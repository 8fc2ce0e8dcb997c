import os from 'node:os';
import { measure, summarize, writeReport } from './stats.js';

export interface ThroughputComparison {
  name: string;
  /** What is counted: flows, orders. */
  unit: string;
  count: number;
  inFlight: number;
  repeats: number;
  flowdesk: (id: string) => Promise<unknown>;
  baseline: (id: string) => Promise<unknown>;
  /** Ids are `{prefix}-{repeat}-{i}`, and `warm-…` for the warm-up. */
  prefix: string;
  /** What each side did, for the report. */
  describe: { setting: string; flowdesk: string; baseline: string };
}

interface RepeatResult {
  rate: number;
  p50: number;
  p99: number;
}

/**
 * Runs Flowdesk and its baseline `repeats` times each, alternating which goes first, and writes the report:
 * completed per second, end-to-end p50 / p99 (min / median / max over the repeats) and the ratio, target ≥ 0.8.
 */
export async function compareThroughput(comparison: ThroughputComparison): Promise<string> {
  const { count, inFlight, repeats, unit } = comparison;
  const results: Record<'flowdesk' | 'baseline', RepeatResult[]> = { flowdesk: [], baseline: [] };
  await measure(5, 5, (i) => comparison.flowdesk(`warm-${comparison.prefix}-${i}`));
  await measure(5, 5, (i) => comparison.baseline(`warm-${comparison.prefix}-${i}`));
  for (let repeat = 0; repeat < repeats; repeat++) {
    const order =
      repeat % 2 === 0 ? (['flowdesk', 'baseline'] as const) : (['baseline', 'flowdesk'] as const);
    for (const which of order) {
      const { latencies, seconds } = await measure(count, inFlight, (i) =>
        comparison[which](`${comparison.prefix}-${repeat}-${i}`),
      );
      const summary = summarize(latencies);
      results[which].push({ rate: count / seconds, p50: summary.p50, p99: summary.p99 });
    }
  }
  const spread = (values: number[], digits: number) => {
    const s = summarize(values);
    return [s.min, s.p50, s.max].map((v) => v.toFixed(digits)).join(' / ');
  };
  const ratios = results.flowdesk.map((r, i) => r.rate / (results.baseline[i]?.rate ?? 1));
  const ratio = summarize(ratios).p50;
  return writeReport({
    name: comparison.name,
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    rows: (['flowdesk', 'baseline'] as const).map((which) => ({
      [unit]: which,
      'completed/s (min/med/max)': spread(
        results[which].map((r) => r.rate),
        2,
      ),
      'end-to-end p50 ms': spread(
        results[which].map((r) => r.p50),
        0,
      ),
      'end-to-end p99 ms': spread(
        results[which].map((r) => r.p99),
        0,
      ),
    })),
    notes: [
      `${count} ${unit} per repeat, at most ${inFlight} in flight, ${repeats} repeats alternating which goes first${comparison.describe.setting}.`,
      `Ratio Flowdesk / baseline (completed ${unit} per second, median of the repeats' ratios): ${ratio.toFixed(2)} (per repeat: ${ratios.map((r) => r.toFixed(2)).join(', ')}); target ≥ 0.8: ${ratio >= 0.8 ? 'met' : 'not met'}.`,
      `Flowdesk: ${comparison.describe.flowdesk}`,
      `Baseline: ${comparison.describe.baseline}`,
    ],
  });
}
