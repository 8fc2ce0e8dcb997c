import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { type AddressPolicy, addressRefusal, guardedLookup } from './address.js';

/**
 * One HTTP exchange with an outside API (a supplier's, a CRM's): connected only to an address the policy allows
 * (checked at connection, after DNS; a refusal fails with code `ADDRESS_REFUSED`), redirects not followed, at
 * most 1 MiB read.
 */
export function exchange(
  url: URL,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    timeoutMs: number;
    policy: AddressPolicy;
  },
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  const refusal = isIP(literal) ? addressRefusal(literal, init.policy) : undefined;
  if (refusal)
    return Promise.reject(Object.assign(new Error(`${url.host} is ${refusal}`), { code: 'ADDRESS_REFUSED' }));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: init.method,
        headers: init.headers,
        lookup: guardedLookup(init.policy) as never,
        timeout: init.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > 1024 * 1024) req.destroy(new Error('answer over 1 MiB'));
          else chunks.push(chunk);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(init.body);
  });
}
