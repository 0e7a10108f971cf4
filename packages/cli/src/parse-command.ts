// Reading a command's arguments: node:util's parseArgs with the global options, and small checkers whose failures
// are usage errors (exit code 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

export const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  url: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** A command's options and positionals, with the global ones (--json, --url, --help) accepted everywhere. */
export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

export function need(v: string | undefined, what: string): string {
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

export function int(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || v.trim() === '') throw new UsageError(`${what} must be a number, got "${v}"`);
  return n;
}

/** K=V pairs (the value may contain "="). */
export function pairs(list: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`${what} must be KEY=VALUE, got "${p}"`);
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

/** Repeatable flags that also accept comma-separated lists. */
export const list = (v: string[] | undefined) => (v ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);

/** One of a closed set of values (roles, scopes), or a usage error naming them. */
export function oneOf<T extends string>(allowed: Record<T, true>, v: string, what: string): T {
  if (!Object.hasOwn(allowed, v)) throw new UsageError(`${what} must be one of ${Object.keys(allowed).join(', ')}, got "${v}"`);
  return v as T;
}
