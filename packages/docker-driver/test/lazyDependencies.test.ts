// Two patches (patches/dockerode@*.patch, patches/docker-modem@*.patch) keep what only rare paths need out of every
// process that talks to Docker: dockerode's BuildKit session (@grpc/grpc-js, protobufjs) and docker-modem's SSH
// transport (ssh2). Each costs several MB of resident memory (pnpm bench:memory). A dependency upgrade that drops a
// patch fails here instead of silently growing the control plane.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function loadedAfter(script: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', `
    const { createRequire } = require('node:module');
    const require2 = createRequire(${JSON.stringify(path.join(pkgDir, 'package.json'))});
    ${script}
    process.stdout.write(JSON.stringify(Object.keys(require.cache)));
  `]);
  return JSON.parse(stdout) as string[];
}

const heavy = /\/node_modules\/(@grpc\/grpc-js|@grpc\/proto-loader|protobufjs|ssh2)\//;

describe('lazily loaded Docker client dependencies', () => {
  it('a dockerode client for the local socket loads neither the BuildKit session nor SSH', async () => {
    const loaded = await loadedAfter(`const Docker = require2('dockerode'); new Docker({ socketPath: '/var/run/docker.sock' });`);
    expect(loaded.some((f) => f.includes('/dockerode/lib/docker.js'))).toBe(true);
    expect(loaded.some((f) => f.includes('/docker-modem/lib/modem.js'))).toBe(true);
    expect(loaded.filter((f) => heavy.test(f))).toEqual([]);
  });

  it('they are still there for the paths that need them', async () => {
    const loaded = await loadedAfter(`require(require2.resolve('dockerode').replace(/docker\\.js$/, 'session.js'));`);
    expect(loaded.some((f) => f.includes('/@grpc/grpc-js/'))).toBe(true);
  });
});
