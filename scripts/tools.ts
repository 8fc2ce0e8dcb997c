import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The two binaries the local stack and the tests run: Temporal's dev server (the CLI) and Stripe's mock server.
 * Each is looked for in its environment variable, then on PATH, then in Go's bin folder, and built once with
 * `go install` when none is found; later runs reuse the binary.
 */
export interface ToolSpec {
  name: string;
  binary: string;
  envVar: string;
  goPackage: string;
  alternatives: string[];
}

export const TEMPORAL_CLI: ToolSpec = {
  name: 'Temporal CLI',
  binary: 'temporal',
  envVar: 'TEMPORAL_CLI',
  // v1.5.1 is the newest release installable with `go install` (later tags carry a replace directive).
  goPackage: 'github.com/temporalio/cli/cmd/temporal@v1.5.1',
  alternatives: [
    'brew install temporal',
    'download a release from https://github.com/temporalio/cli/releases and set TEMPORAL_CLI to the binary',
    'run the server in containers: docker compose -f temporal-dev.yml up, then set TEMPORAL_ADDRESS=127.0.0.1:7233',
  ],
};

export const STRIPE_MOCK: ToolSpec = {
  name: 'stripe-mock',
  binary: 'stripe-mock',
  envVar: 'STRIPE_MOCK',
  goPackage: 'github.com/stripe/stripe-mock@v0.197.0',
  alternatives: [
    'brew install stripe/stripe-mock/stripe-mock',
    'download a release from https://github.com/stripe/stripe-mock/releases and set STRIPE_MOCK to the binary',
    'docker run -p 12111:12111 stripe/stripe-mock, then set STRIPE_API_URL=http://127.0.0.1:12111',
  ],
};

export class ToolUnavailableError extends Error {}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, binary))) return path.join(dir, binary);
  }
  return undefined;
}

function goCommand(): string | undefined {
  return onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
}

function goBinDir(go: string): string {
  const gobin = execFileSync(go, ['env', 'GOBIN'], { encoding: 'utf8' }).trim();
  if (gobin) return gobin;
  const gopath = execFileSync(go, ['env', 'GOPATH'], { encoding: 'utf8' }).trim().split(path.delimiter)[0];
  return path.join(gopath ?? '', 'bin');
}

/** Finds the tool without installing anything; undefined when it is not on this machine. */
export function findTool(tool: ToolSpec): string | undefined {
  const fromEnv = process.env[tool.envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new ToolUnavailableError(`${tool.envVar}=${fromEnv} is not an executable file.`);
    }
    return fromEnv;
  }
  const found = onPath(tool.binary);
  if (found) return found;
  const go = goCommand();
  if (!go) return undefined;
  const inGoBin = path.join(goBinDir(go), tool.binary);
  return isExecutable(inGoBin) ? inGoBin : undefined;
}

/** Finds the tool, building it with `go install` the first time. Throws naming the alternatives when it cannot. */
export function ensureTool(
  tool: ToolSpec,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
) {
  const found = findTool(tool);
  if (found) return found;
  const go = goCommand();
  if (!go) {
    throw new ToolUnavailableError(
      [
        `The ${tool.name} (${tool.binary}) was not found and Go is not installed to build it.`,
        `Set ${tool.envVar} to the binary, put it on PATH, install Go and run: go install ${tool.goPackage}`,
        'or one of:',
        ...tool.alternatives.map((a) => `  - ${a}`),
      ].join('\n'),
    );
  }
  log(`Building the ${tool.name} once with: go install ${tool.goPackage} (this takes a few minutes)…`);
  const result = spawnSync(go, ['install', tool.goPackage], { stdio: ['ignore', 'inherit', 'inherit'] });
  const built = path.join(goBinDir(go), tool.binary);
  if (result.status !== 0 || !isExecutable(built)) {
    throw new ToolUnavailableError(
      [
        `go install ${tool.goPackage} failed.`,
        'Alternatives:',
        ...tool.alternatives.map((a) => `  - ${a}`),
      ].join('\n'),
    );
  }
  return built;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    for (const tool of [TEMPORAL_CLI, STRIPE_MOCK]) {
      process.stdout.write(`${tool.name}: ${ensureTool(tool)}\n`);
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
