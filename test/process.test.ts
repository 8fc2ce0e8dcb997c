import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./fixtures/spawnsSleeper.ts', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a managed child process', () => {
  it('is stopped when the process that started it is killed outright', async () => {
    const parent = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const childPid = await new Promise<number>((resolve) => {
      parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    });
    expect(alive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    for (let i = 0; i < 50 && alive(childPid); i++) await sleep(100);
    expect(alive(childPid)).toBe(false);
  });
});
