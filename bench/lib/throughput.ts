import os from 'node:os';
import { cpuSeconds, harnessCpuSeconds } from './cpu.js';
import { measure, summarize, writeReport } from './stats.js';

/** One way of doing the work: Flowdesk, or a baseline it is measured against. */
export interface ThroughputSide {
  name: string;
  run: (id: string) => Promise<unknown>;
  /** What this side did, for the report. */
  describe: string;
  /** The processes whose CPU is this side's, by role (the server and PostgreSQL are shared, measured in turn). */
  pids: Record<string, readonly number[]>;
}

export interface ThroughputComparison {
  name: string;
  /** What is counted: flows, orders. */
  unit: string;
  count: number;
  inFlight: number;
  repeats: number;
  /** Ids are `{prefix}-{side}-{repeat}-{i}`, and `warm-…` for the warm-up. */
  prefix: string;
  setting: string;
  /** Flowdesk first, then its baselines. */
  sides: readonly ThroughputSide[];
  /** The ratios the report checks: Flowdesk's throughput over a baseline's, at least this much. */
  targets: Readonly<Record<string, number>>;
  /** Further findings for the report (each flow's history, say), computed after the runs. */
  findings?: () => Promise<string[]>;
}

interface RepeatResult {
  rate: number;
  p50: number;
  p99: number;
  /** CPU milliseconds per completed unit, by role. */
  cpu: Record<string, number>;
}

/**
 * Runs every side `repeats` times, in a rotating order, one at a time, and writes the report: completed per
 * second, end-to-end p50 / p99 (min / median / max over the repeats), CPU per unit by process, and Flowdesk's
 * throughput over each baseline's (the median of the repeats' ratios).
 */
export async function compareThroughput(comparison: ThroughputComparison): Promise<string> {
  const { count, inFlight, repeats, unit, sides } = comparison;
  const results = new Map<string, RepeatResult[]>(sides.map((side) => [side.name, []]));
  for (const side of sides)
    await measure(5, 5, (i) => side.run(`warm-${comparison.prefix}-${side.name}-${i}`));
  for (let repeat = 0; repeat < repeats; repeat++) {
    const order = sides.map((_, i) => sides[(i + repeat) % sides.length] as ThroughputSide);
    for (const side of order) {
      const before = cpuByRole(side);
      const { latencies, seconds } = await measure(count, inFlight, (i) =>
        side.run(`${comparison.prefix}-${side.name}-${repeat}-${i}`),
      );
      const after = cpuByRole(side);
      const summary = summarize(latencies);
      const cpu = Object.fromEntries(
        Object.keys(after).map((role) => [role, ((after[role] ?? 0) - (before[role] ?? 0)) * (1000 / count)]),
      );
      results.get(side.name)?.push({ rate: count / seconds, p50: summary.p50, p99: summary.p99, cpu });
    }
  }
  const spread = (values: number[], digits: number) => {
    const s = summarize(values);
    return [s.min, s.p50, s.max].map((v) => v.toFixed(digits)).join(' / ');
  };
  const median = (values: number[]) => summarize(values).p50;
  const flowdesk = results.get(sides[0]?.name ?? '') ?? [];
  const ratios = Object.entries(comparison.targets).map(([against, atLeast]) => {
    const other = results.get(against) ?? [];
    const perRepeat = flowdesk.map((r, i) => r.rate / (other[i]?.rate ?? Number.NaN));
    const ratio = median(perRepeat);
    return `Flowdesk / ${against} (completed ${unit} per second, median of the repeats' ratios): ${ratio.toFixed(2)} (per repeat: ${perRepeat.map((r) => r.toFixed(2)).join(', ')})${atLeast > 0 ? `; target ≥ ${atLeast}: ${ratio >= atLeast ? 'met' : 'not met'}` : ''}.`;
  });
  const roles = [...new Set(sides.flatMap((side) => Object.keys(side.pids))), 'harness'];
  return writeReport({
    name: comparison.name,
    machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    startedAt: new Date().toISOString(),
    rows: sides.map((side) => {
      const runs = results.get(side.name) ?? [];
      return {
        [unit]: side.name,
        'completed/s (min/med/max)': spread(
          runs.map((r) => r.rate),
          2,
        ),
        'end-to-end p50 ms': spread(
          runs.map((r) => r.p50),
          0,
        ),
        'end-to-end p99 ms': spread(
          runs.map((r) => r.p99),
          0,
        ),
        ...Object.fromEntries(
          roles.map((role) => [
            `CPU ms/${unit.replace(/s$/, '')} ${role}`,
            median(runs.map((r) => r.cpu[role] ?? 0)).toFixed(0),
          ]),
        ),
        [`CPU ms/${unit.replace(/s$/, '')} total`]: median(
          runs.map((r) => Object.values(r.cpu).reduce((sum, ms) => sum + ms, 0)),
        ).toFixed(0),
      };
    }),
    notes: [
      `${count} ${unit} per repeat, at most ${inFlight} in flight, ${repeats} repeats, each side alone in turn, the order rotating${comparison.setting}.`,
      ...ratios,
      ...((await comparison.findings?.()) ?? []),
      'CPU per unit: user + system time of each process and its children over the repeat, divided by the units completed (median of the repeats). The harness (this process) drives every side alike, and holds the SMTP sink.',
      ...sides.map((side) => `${side.name}: ${side.describe}`),
    ],
  });
}

function cpuByRole(side: ThroughputSide): Record<string, number> {
  return {
    ...Object.fromEntries(Object.entries(side.pids).map(([role, pids]) => [role, cpuSeconds(pids)])),
    harness: harnessCpuSeconds(),
  };
}
