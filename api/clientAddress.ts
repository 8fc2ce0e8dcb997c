import { BlockList, isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/**
 * The address a request came from. Behind a reverse proxy the connection is the proxy's, so when it comes from
 * one of TRUSTED_PROXIES, the client is the nearest address in `X-Forwarded-For` that is not itself a trusted
 * proxy (the entries further left are the client's to write, so they are not believed). Signatures record it,
 * and the public pages' rate limits count by it.
 */
/** Addresses and ranges (`203.0.113.7`, `10.0.0.0/8`, IPv6 alike): trusted proxies, a webhook's allowed senders. */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [network = '', prefix] = entry.split('/');
    const family = isIP(network) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(network, family);
    else list.addSubnet(network, Number(prefix), family);
  }
  return list;
}

export const inAddressList = (list: BlockList, address: string) =>
  isIP(address) !== 0 && list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

export function clientAddress(c: Context, proxies: BlockList): string {
  const peer = (getConnInfo(c).remote.address ?? 'unknown').replace(/^::ffff:/, '');
  if (!inAddressList(proxies, peer)) return peer;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((entry) => entry.trim().replace(/^::ffff:/, ''))
    .filter((entry) => isIP(entry) !== 0);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    const hop = forwarded[i] ?? '';
    if (!inAddressList(proxies, hop)) return hop;
  }
  return forwarded[0] ?? peer;
}
