import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { DockerError } from './DockerError.js';

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const)
  blocked.addSubnet(net, bits, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true;
}

/**
 * A repo host that is not explicitly allowed must resolve only to public addresses (no SSRF into the platform's
 * network). The addresses are returned so git can be pinned to them (`http.curloptResolve`), which closes the
 * window for a DNS answer that changes between this check and the clone.
 */
export async function resolvePublicHost(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare)) {
    if (isPrivateAddress(bare)) throw new DockerError('unsafe_url', `repo host ${hostname} is a private address`);
    return [bare];
  }
  let addrs: { address: string }[];
  try {
    addrs = await lookup(bare, { all: true, verbatim: true });
  } catch {
    throw new DockerError('git_failed', `cannot resolve repo host ${hostname}`);
  }
  if (addrs.length === 0) throw new DockerError('git_failed', `cannot resolve repo host ${hostname}`);
  if (addrs.some((a) => isPrivateAddress(a.address)))
    throw new DockerError('unsafe_url', `repo host ${hostname} resolves to a private address`);
  return addrs.map((a) => a.address);
}
