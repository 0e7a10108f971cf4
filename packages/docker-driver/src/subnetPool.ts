// Subnets for app networks from an operator's range (APP_SUBNET_POOL). The engine's default address pools hand
// each bridge network a /16 or a /20, about 30 networks in all on a default engine: one per app, that is where a
// host stops taking apps. A /24 each from one /16 gives 256.
import { DockerError } from './DockerError.js';

export interface Cidr {
  /** The network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** An IPv4 CIDR, or undefined for anything else (IPv6 subnets of other networks are simply not ours to avoid). */
export function parseCidr(text: string): Cidr | undefined {
  const m = IPV4.exec(text.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  return { base: address - (address % 2 ** (32 - prefix)), prefix };
}

export function formatCidr(c: Cidr): string {
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(c.base / 2 ** shift) % 256);
  return `${octets.join('.')}/${c.prefix}`;
}

function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** Checks an APP_SUBNET_POOL / prefix pair; the message says what is wrong. */
export function validatePool(pool: string, prefix: number): string | undefined {
  const c = parseCidr(pool);
  if (!c) return `not an IPv4 CIDR: ${JSON.stringify(pool)}`;
  if (formatCidr(c) !== pool.trim()) return `${pool} is not a network address (did you mean ${formatCidr(c)}?)`;
  if (!Number.isInteger(prefix) || prefix < c.prefix || prefix > 29) return `subnet prefix /${prefix} must be between /${c.prefix} and /29`;
  return undefined;
}

/** The first /prefix of the pool that overlaps none of the taken subnets, or undefined when the pool is full. */
export function pickSubnet(pool: string, prefix: number, taken: readonly string[]): string | undefined {
  const range = parseCidr(pool);
  if (!range) return undefined;
  const used = taken.map(parseCidr).filter((c): c is Cidr => c !== undefined && overlaps(c, range));
  const step = 2 ** (32 - prefix);
  for (let base = range.base; base < range.base + size(range); base += step) {
    const candidate = { base, prefix };
    if (!used.some((u) => overlaps(u, candidate))) return formatCidr(candidate);
  }
  return undefined;
}

/** The engine's default address pools are spent: say how to get more networks, not only that there are none. */
export function explainPoolExhaustion(err: unknown): unknown {
  if (!(err instanceof DockerError) || !/non-overlapping IPv4 address pool/i.test(err.message)) return err;
  return new DockerError(
    err.code,
    `${err.message} (the engine's default address pools are spent, about 30 networks: set APP_SUBNET_POOL, e.g. 10.213.0.0/16, for a /24 per app network, or widen dockerd's default-address-pools)`,
    { cause: err },
  );
}
