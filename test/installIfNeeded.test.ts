import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve('scripts/installIfNeeded.mjs');
let project: string;
let bin: string;
let calls: string;

/** A stand-in for npm that records how it was called and leaves what an install leaves. */
const STAND_IN_NPM = `#!/bin/sh
echo "$@" >> "$NPM_CALLS"
mkdir -p node_modules && touch node_modules/.package-lock.json
`;

beforeAll(async () => {
  project = await mkdtemp(path.join(tmpdir(), 'flowdesk-install-'));
  bin = path.join(project, 'bin');
  calls = path.join(project, 'npm-calls');
  await mkdir(bin);
  await writeFile(path.join(bin, 'npm'), STAND_IN_NPM);
  await chmod(path.join(bin, 'npm'), 0o755);
  await writeFile(path.join(project, 'package.json'), '{"name": "p"}\n');
  await writeFile(path.join(project, 'package-lock.json'), '{"lockfileVersion": 3}\n');
  await writeFile(calls, '');
});
afterAll(() => rm(project, { recursive: true, force: true }));

async function runScript(): Promise<{ output: string; npm: string[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT], {
    cwd: project,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NPM_CALLS: calls },
  });
  const npm = (await readFile(calls, 'utf8')).split('\n').filter(Boolean);
  await writeFile(calls, '');
  return { output: stdout, npm };
}

/** Moves a file's modification time `seconds` from now. */
const touch = (file: string, seconds: number) => {
  const at = new Date(Date.now() + seconds * 1000);
  return utimes(path.join(project, file), at, at);
};

describe('installing dependencies before npm start and npm test', () => {
  it('installs from the lockfile when node_modules is missing, then skips while nothing changed', async () => {
    const missing = await runScript();
    expect(missing.npm).toEqual(['ci --no-audit --no-fund']);
    expect(missing.output).toContain('node_modules is missing');

    const upToDate = await runScript();
    expect(upToDate).toEqual({ output: '', npm: [] });
  });

  it('installs again when package-lock.json or package.json changed since the last install', async () => {
    await runScript();
    // An install a minute ago; a pull then changed the lockfile.
    await touch('node_modules/.package-lock.json', -60);
    await touch('package-lock.json', -30);
    const staleLock = await runScript();
    expect(staleLock.npm).toEqual(['install --no-audit --no-fund']);
    expect(staleLock.output).toContain('package-lock.json changed since the last install');
    expect((await runScript()).npm).toEqual([]);

    await touch('node_modules/.package-lock.json', -60);
    await touch('package-lock.json', -120);
    await touch('package.json', -30);
    expect((await runScript()).npm).toEqual(['install --no-audit --no-fund']);
    expect((await runScript()).npm).toEqual([]);
  });
});
