// Whom a request or connection counts against, for every limit: an IPv4 address (IPv4-mapped IPv6 included), or
// the /64 of an IPv6 one (one subscriber usually holds a whole /64, so per-address keys would be free to multiply).
import net from 'node:net';

/**
 * The key a client is limited by: its IPv4 address, or the /64 of an IPv6 address (one subscriber usually holds a
 * whole /64, so per-address keys would let it rotate through 2^64 of them). IPv4-mapped IPv6 counts as IPv4.
 */
export function clientKey(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(bare)) return bare;
  const groups = expandIPv6(bare);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : bare;
}

/** The eight 16-bit groups of an IPv6 address, lower-case without leading zeros; null when it does not parse. */
function expandIPv6(addr: string): string[] | null {
  let s = addr.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4 forms other than the mapped one, ::1.2.3.4) becomes two groups.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, quad.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return groups.map((g) => parseInt(g || '0', 16).toString(16));
}
