import { type ChildProcess, spawn } from 'node:child_process';
import { serviceCommand } from '../../scripts/stack/services.js';
import { freePort } from './ports.js';

/**
 * The real worker entry point as a process of its own, as production runs it; resolves once it polls. The
 * metrics port is picked free just before, and another test file may take it in between: that start is tried
 * again on another port. Any other failure to start rejects with what the worker said.
 */
export async function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  return (await startServiceProcess('worker', 'WORKER_METRICS_PORT', env)).child;
}

/** The real API entry point as a process of its own; resolves with its URL once it listens. */
export async function startApiProcess(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const { child, port } = await startServiceProcess('api', 'PORT', { HOST: '127.0.0.1', ...env });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function startServiceProcess(
  service: 'api' | 'worker',
  portVariable: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn(process.execPath, serviceCommand(service), {
      env: { ...process.env, ...env, [portVariable]: String(port) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let said = '';
    const listen = (chunk: Buffer) => {
      said = (said + chunk.toString('utf8')).slice(-4000);
    };
    child.stderr?.on('data', listen);
    const ready = await new Promise<boolean>((resolve) => {
      child.once('message', () => resolve(true));
      child.once('exit', () => resolve(false));
    });
    if (ready) {
      // Keep draining what it says, so a full pipe never blocks it.
      child.stderr?.off('data', listen);
      child.stderr?.resume();
      return { child, port };
    }
    if (attempt < 3 && /EADDRINUSE|address already in use/i.test(said)) continue;
    throw new Error(
      `${service} exited with ${child.exitCode} before it was ready: ${said.trim().slice(-1500)}`,
    );
  }
}

/** SIGKILL: no shutdown, no goodbye, as when a machine dies. */
export function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
