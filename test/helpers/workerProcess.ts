import { type ChildProcess, spawn } from 'node:child_process';
import { serviceCommand } from '../../scripts/stack/services.js';
import { freePort } from './ports.js';

/** The real worker entry point as a process of its own, as production runs it; resolves once it polls. */
export async function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, serviceCommand('worker'), {
    env: { ...process.env, ...env, WORKER_METRICS_PORT: String(await freePort()) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return child;
}

/** SIGKILL: no shutdown, no goodbye, as when a machine dies. */
export function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
