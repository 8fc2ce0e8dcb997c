import { chmod, mkdir } from 'node:fs/promises';

/**
 * What Flowdesk keeps on disk (logs, the email outbox with its signing and payment links, secrets, state) is
 * for its own user only: folders 0700, files 0600. A folder made by an earlier version is tightened too.
 */
export const PRIVATE_FILE = 0o600;

export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}
