import dockerignore from '@balena/dockerignore';
import { lstatSync } from 'node:fs';
import { lstat, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pack } from 'tar-fs';

function isDirectory(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The build context as a tar stream: `.git` left out, `.dockerignore` honoured with Docker's semantics
 * (the Dockerfile and .dockerignore are sent even when ignored, as the docker CLI does), owners reset to root.
 * Symlinks are packed as links, never followed.
 */
export async function packContext(contextDir: string, dockerfileRel: string): Promise<Readable> {
  let patterns: string[] = [];
  const ignoreFile = join(contextDir, '.dockerignore');
  const st = await lstat(ignoreFile).catch(() => null);
  // A symlinked .dockerignore could point anywhere on this host; only a regular file is read.
  if (st?.isFile() && st.size < 1024 * 1024) {
    patterns = (await readFile(ignoreFile, 'utf8'))
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  }
  // A CommonJS module: under NodeNext the default import is module.exports, whose `default` is the factory.
  const ig = dockerignore.default().add(patterns);
  const hasExceptions = patterns.some((p) => p.startsWith('!'));
  const always = new Set([dockerfileRel.split(sep).join('/'), '.dockerignore']);

  return pack(contextDir, {
    ignore(name: string) {
      const rel = relative(contextDir, name).split(sep).join('/');
      if (!rel) return false;
      if (rel === '.git' || rel.startsWith('.git/')) return true;
      if (always.has(rel)) return false;
      if (!ig.ignores(rel)) return false;
      // An excluded directory may still hold an exception (`!dir/keep`): walk it and judge its files one by one.
      return !(hasExceptions && isDirectory(name));
    },
    strict: false,
    map(header) {
      header.uid = 0;
      header.gid = 0;
      return header;
    },
  }) as unknown as Readable;
}
