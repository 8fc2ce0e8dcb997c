import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { PRIVATE_FILE } from '../../runtime/privateFiles.js';

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The stop signal to the process group, SIGKILL after the grace period; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns a child in its own process group, so that a terminal's Ctrl-C reaches only the supervisor, which
 * then stops the children in order (API and worker before the servers they depend on).
 */
export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { logFile?: string; stopSignal?: NodeJS.Signals } = {},
): ManagedProcess {
  const { logFile, stopSignal = 'SIGTERM', ...spawnOptions } = options;
  const child = spawn(command, args, {
    ...spawnOptions,
    detached: true,
    stdio: spawnOptions.stdio ?? (logFile ? ['ignore', 'pipe', 'pipe'] : 'inherit'),
  });
  if (logFile) {
    const log = createWriteStream(logFile, { flags: 'a', mode: PRIVATE_FILE });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }
  const watchdog = child.pid === undefined ? undefined : watchParent(child.pid, stopSignal);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  void exited.then(() => watchdog?.stop());
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  return {
    name,
    child,
    exited,
    async stop(graceMs = 15_000) {
      signalGroup(stopSignal);
      const grace = new AbortController();
      const timedOut = await Promise.race([
        exited.then(() => false),
        sleep(graceMs, true, { signal: grace.signal }).catch(() => false),
      ]);
      grace.abort();
      if (timedOut) {
        signalGroup('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * A detached child outlives a parent that is killed outright (SIGKILL, an out-of-memory kill, a test runner's
 * timeout), and nothing would ever stop it. A small shell watches this process and, once it is gone, stops
 * the child's group the way `stop` would.
 */
function watchParent(childPid: number, stopSignal: NodeJS.Signals): { stop(): void } {
  const group = `-${childPid}`;
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
    `kill -${stopSignal.replace('SIG', '')} ${group} 2>/dev/null`,
    'sleep 10',
    `kill -KILL ${group} 2>/dev/null`,
  ].join('; ');
  const watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return {
    stop() {
      // The whole group: the shell and the `sleep` it may be in.
      if (watchdog.pid !== undefined && watchdog.exitCode === null) {
        try {
          process.kill(-watchdog.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    },
  };
}

/** Polls `probe` until it resolves true, the process dies, or the deadline passes. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  {
    timeoutMs = 60_000,
    intervalMs = 200,
    process: managed,
  }: { timeoutMs?: number; intervalMs?: number; process?: ManagedProcess } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let died = false;
  void managed?.exited.then(() => {
    died = true;
  });
  for (;;) {
    if (died) throw new Error(`${what}: the process exited before it was ready`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}
