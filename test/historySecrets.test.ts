import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { HISTORIES_DIR, secretsIn } from './helpers/histories.js';

/**
 * Temporal histories are read by anyone with the Temporal UI or the namespace: they carry no customer data and
 * no link in the clear (payloads and failures are encrypted). Fresh histories are scanned where their flows run
 * (proposalToPayment.test.ts, supplierOrder.test.ts); the recorded ones here.
 */
describe('recorded histories', () => {
  it('show no email address, signing or payment token, or key in the clear', async () => {
    const files = (await readdir(HISTORIES_DIR, { recursive: true })).filter((file) =>
      file.endsWith('.json'),
    );
    expect(files.length).toBeGreaterThan(20);
    const found: string[] = [];
    for (const file of files) {
      const secrets = secretsIn(await readFile(new URL(file, HISTORIES_DIR), 'utf8'));
      if (secrets.length > 0) found.push(`${file}: ${[...new Set(secrets)].slice(0, 3).join(', ')}`);
    }
    expect(found).toEqual([]);
  });

  it('are what the scan would catch: an unencrypted payload with an address and a link is found', () => {
    const plain = (text: string) => ({
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from(text).toString('base64'),
    });
    const history = JSON.stringify({
      events: [
        {
          activityTaskCompletedEventAttributes: {
            result: {
              payloads: [plain('{"to":"mary@example.com","link":"https://x/sign/env-1?token=abcdefghij"}')],
            },
          },
        },
      ],
    });
    expect(secretsIn(history)).toEqual(['mary@example.com', '/sign/env-', 'token=abcdefghij']);
  });
});
