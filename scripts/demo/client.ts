import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configOrExit } from '../../runtime/config.js';

/** What the demos share: the running stack's address, its demo secrets, timed output and API calls. */
export const config = configOrExit();
export const api = `http://${config.api.host}:${config.api.port}`;
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s`;
export const say = (line: string) => process.stdout.write(`${elapsed()}  ${line}\n`);

export async function secret(file: string): Promise<string> {
  try {
    return (await readFile(path.join(config.dataDir, file), 'utf8')).trim();
  } catch {
    throw new Error(
      `${path.join(config.dataDir, file)} is missing: is \`npm start\` running with this DATA_DIR?`,
    );
  }
}

export async function call<T>(method: string, route: string, key: string, body?: unknown): Promise<T> {
  const response = await fetch(`${api}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export function runDemo(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
