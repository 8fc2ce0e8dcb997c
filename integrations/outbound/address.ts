import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where an outside API may be (a supplier's, a CRM's): a tenant admin types its URL, and Flowdesk calls it, so it
 * must not reach into Flowdesk's own network. `https` only; addresses inside (private, link-local, shared, reserved) are
 * refused after DNS resolution, at registration and again at every connection (so a name that resolves
 * elsewhere later gains nothing). Loopback, and plain `http` to it, only when a development setting allows it
 * (the simulators on this machine).
 */
export interface AddressPolicy {
  allowLoopback: boolean;
}

const inside = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  inside.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  inside.addSubnet(network, prefix, 'ipv6');

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Why Flowdesk will not connect to this address, if it will not. */
export function addressRefusal(address: string, policy: AddressPolicy): string | undefined {
  // An IPv4 address written as IPv6 (::ffff:10.0.0.1) is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (loopback.check(ip, family)) return policy.allowLoopback ? undefined : 'a loopback address';
  if (inside.check(ip, family)) return 'a private, link-local or reserved address';
  return undefined;
}

/** Why an outside API's URL is refused (checked when it is registered), or undefined. */
export async function outsideUrlRefusal(url: string, policy: AddressPolicy): Promise<string | undefined> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (parsed.username || parsed.password) return 'credentials do not go in the URL';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((found) => found.address);
  } catch {
    return `${host} does not resolve`;
  }
  for (const address of addresses) {
    const refusal = addressRefusal(address, policy);
    if (refusal) return `${host} is ${refusal}`;
  }
  const onLoopback = addresses.every((address) => addressRefusal(address, { allowLoopback: false }));
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && onLoopback))
    return 'must be https (plain http only to this machine, in development)';
  return undefined;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A DNS lookup for outgoing connections that refuses addresses inside, whatever the name said at registration. */
export function guardedLookup(policy: AddressPolicy) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, found) => {
      if (error) return callback(error, []);
      const refused = found.map((entry) => addressRefusal(entry.address, policy)).find(Boolean);
      if (refused)
        return callback(
          Object.assign(new Error(`${hostname} is ${refused}`), { code: 'ADDRESS_REFUSED' }),
          [],
        );
      if (options.all) return callback(null, found);
      const [first] = found;
      return callback(null, first?.address ?? '', first?.family);
    });
  };
}
