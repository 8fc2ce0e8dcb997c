import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock ticks per second for /proc times (getconf CLK_TCK; 100 on every Linux the project runs on). */
const TICKS = 100;

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime of the process, and of its children it has waited for. */
  ticks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after its closing one.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const at = (field: number) => Number(fields[field - 3]);
    return { pid, ppid: at(4), ticks: at(14) + at(15) + at(16) + at(17) };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used so far by the processes `roots` and everything they started (PostgreSQL's backends, the
 * Temporal server's threads are in its own figure). A process that has exited counts through its parent's
 * waited-for children.
 */
export function cpuSeconds(roots: readonly number[]): number {
  const all = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(Number(name)))
    .filter((stat): stat is ProcStat => stat !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  let ticks = 0;
  const seen = new Set<number>();
  const visit = (stat: ProcStat) => {
    if (seen.has(stat.pid)) return;
    seen.add(stat.pid);
    ticks += stat.ticks;
    for (const child of children.get(stat.pid) ?? []) visit(child);
  };
  for (const pid of roots) {
    const stat = all.find((candidate) => candidate.pid === pid);
    if (stat) visit(stat);
  }
  return ticks / TICKS;
}

/** The harness's own CPU seconds (this process). */
export function harnessCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}
