import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingressFiles } from './ingress-files.js';
import { bearerToken, ensureIngressToken, tokenMatches } from './ingress-token.js';

describe('ingress token', () => {
  it('is created once (0600, in a 0700 directory) and read back by every later caller', () => {
    const files = ingressFiles(fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-token-')));
    const first = ensureIngressToken(files);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(ensureIngressToken(files)).toBe(first);
    expect(fs.statSync(files.token).mode & 0o777).toBe(0o600);
    expect(fs.statSync(files.dir).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(files.dir)).toEqual(['token']);
  });

  it('refuses a token file that does not hold a token', () => {
    const files = ingressFiles(fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-token-')));
    fs.mkdirSync(files.dir);
    fs.writeFileSync(files.token, 'short\n');
    expect(() => ensureIngressToken(files)).toThrow(/64 hex digits/);
  });

  it('matches only the exact token from a Bearer header', () => {
    const t = 'a'.repeat(64);
    expect(tokenMatches(bearerToken(`Bearer ${t}`), t)).toBe(true);
    expect(tokenMatches(bearerToken(`bearer ${t}`), t)).toBe(true);
    for (const h of [undefined, '', `Basic ${t}`, `Bearer ${t.slice(1)}`, `Bearer ${t}b`, `Bearer ${t} extra`]) {
      expect(tokenMatches(bearerToken(h), t), String(h)).toBe(false);
    }
  });
});
