// Node only (reached through `@cynchro/sdk/node`): tokens kept in a JSON file readable by its owner alone.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Tokens, TokenStore } from '../token-store.js';

/** `$XDG_CONFIG_HOME/cynchro/credentials.json`, `~/.config/cynchro/credentials.json` by default. */
export function defaultCredentialsPath(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'cynchro', 'credentials.json');
}

export interface CredentialsFile {
  url?: string;
  email?: string;
  accessToken?: string;
  refreshToken?: string;
  [extra: string]: unknown;
}

/** Reads the whole file; null when it is missing or unreadable as JSON. */
export function readCredentialsFile(file: string): CredentialsFile | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as CredentialsFile) : null;
  } catch {
    return null;
  }
}

/** Writes atomically: the directory 0700, the file 0600 from its creation (never world-readable, even briefly). */
export function writeCredentialsFile(file: string, content: CredentialsFile): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(content, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * A TokenStore in a JSON file (mode 0600, directory 0700). Other fields of the file (the CLI keeps `url` and
 * `email` there) are preserved; saving null removes the tokens only.
 */
export class FileTokenStore implements TokenStore {
  constructor(readonly file: string = defaultCredentialsPath()) {}

  load(): Tokens | null {
    const c = readCredentialsFile(this.file);
    if (!c || typeof c.accessToken !== 'string' || typeof c.refreshToken !== 'string') return null;
    return { accessToken: c.accessToken, refreshToken: c.refreshToken };
  }

  save(tokens: Tokens | null): void {
    const { accessToken: _a, refreshToken: _r, ...rest } = readCredentialsFile(this.file) ?? {};
    writeCredentialsFile(this.file, tokens ? { ...rest, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken } : rest);
  }
}
