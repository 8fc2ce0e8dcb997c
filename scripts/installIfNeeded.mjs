// Runs before `npm start` and `npm test`, so that a fresh clone needs no `npm install` first. Plain Node with no
// dependencies of its own: it runs before there are any. npm records every install in
// node_modules/.package-lock.json; when that is missing, or older than package.json or package-lock.json (a pull
// changed them), the dependencies are installed. Otherwise it costs two stat calls.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';

const modifiedAt = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs;

/** What to do in the project at `root`: nothing, or which npm command to run and why. */
function installDecision(root) {
  const installed = modifiedAt(path.join(root, 'node_modules', '.package-lock.json'));
  if (installed === undefined) {
    return { install: true, command: ['ci'], reason: 'node_modules is missing' };
  }
  const changed = ['package.json', 'package-lock.json'].filter(
    (file) => (modifiedAt(path.join(root, file)) ?? 0) > installed,
  );
  if (changed.length > 0) {
    return {
      install: true,
      command: ['install'],
      reason: `${changed.join(' and ')} changed since the last install`,
    };
  }
  return { install: false, reason: 'dependencies are up to date' };
}

const root = process.cwd();
const decision = installDecision(root);
if (decision.install) {
  const args = [...decision.command, '--no-audit', '--no-fund'];
  process.stdout.write(`Installing dependencies (${decision.reason}): npm ${args.join(' ')}\n`);
  const result = spawnSync('npm', args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`npm ${args.join(' ')} failed; fix what it says, then run the command again.\n`);
    process.exit(result.status ?? 1);
  }
}
