import { readFileSync } from 'node:fs';

function findPackageJson(): { version: string } {
  // Two levels up from runtime/ in source and from dist/runtime/ in the build.
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8'));
    } catch {
      // try the next candidate
    }
  }
  return { version: '0.0.0' };
}

export const VERSION = findPackageJson().version;
