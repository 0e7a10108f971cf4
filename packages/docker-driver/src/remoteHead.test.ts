// remoteHead against real git: `git http-backend` on 127.0.0.1 standing in for GitHub (no engine needed).
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHttpServer, type GitHttpServer } from '../test/scripts/git-http-server.js';
import { failure } from '../test/helpers/failure.js';
import { createDockerodeDriver } from './createDockerodeDriver.js';
import { createFakeDockerDriver } from './createFakeDockerDriver.js';
import { headIn, remoteHead } from './remoteHead.js';
import type { DockerDriver, RemoteHeadOptions } from './types.js';

const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
let git: GitHttpServer;
let driver: DockerDriver;
let first: string;
const lsDirs = () => readdirSync(tmpdir()).filter((n) => n.startsWith('cynchro-ls-remote-'));

beforeAll(async () => {
  git = await startGitHttpServer({ token: TOKEN });
  first = git.createRepo('app', { version: 'one\n' });
  git.createRepo('private', { version: 'secret\n' }, { private: true });
  // The driver is never asked to reach the engine here; remoteHead only runs git.
  driver = createDockerodeDriver({ gitAllowHosts: [] });
});
afterAll(async () => {
  await driver?.close();
  await git?.close();
});

const opts = (over: Partial<RemoteHeadOptions> = {}): RemoteHeadOptions => ({ repoUrl: `${git.baseUrl}/app.git`, branch: 'main', allowHosts: [git.host], ...over });

describe('remoteHead', () => {
  it("answers where the branch points now, following new commits, and null for a branch the remote lacks", async () => {
    const before = lsDirs();
    expect(await driver.remoteHead(opts())).toBe(first);
    const second = git.commit('app', { version: 'two\n' });
    expect(await driver.remoteHead(opts())).toBe(second);
    const other = git.commit('app', { version: 'feature\n' }, { branch: 'feature/x' });
    expect(await driver.remoteHead(opts({ branch: 'feature/x' }))).toBe(other);
    expect(await driver.remoteHead(opts())).toBe(second);
    expect(await driver.remoteHead(opts({ branch: 'nope' }))).toBeNull();
    // ls-remote patterns match ref tails: a branch named like ours one level down must not count.
    git.commit('app', { version: 'decoy\n' }, { branch: 'x/refs/heads/decoy' });
    expect(await driver.remoteHead(opts({ branch: 'decoy' }))).toBeNull();
    expect(lsDirs().filter((n) => !before.includes(n))).toEqual([]);
  });

  it('reads a private repo with the token sent only as a header from the environment', async () => {
    const snapshots = git.processSnapshots.length;
    const head = await driver.remoteHead(opts({ repoUrl: `${git.baseUrl}/private.git`, token: TOKEN }));
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    expect(git.authHeaders).toContain(`Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`);
    for (const s of git.processSnapshots.slice(snapshots)) expect(s).not.toContain(TOKEN);
  });

  it('fails as git_failed without the token when it is wrong or missing', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const e = await failure(driver.remoteHead(opts({ repoUrl: `${git.baseUrl}/private.git`, token: wrong })));
    expect(e.code).toBe('git_failed');
    expect(e.message).toMatch(/authentication failed/);
    expect(`${e.message}\n${e.stack}\n${JSON.stringify(e)}`).not.toContain(wrong);
    expect((await failure(driver.remoteHead(opts({ repoUrl: `${git.baseUrl}/private.git` })))).code).toBe('git_failed');
    expect((await failure(driver.remoteHead(opts({ repoUrl: `${git.baseUrl}/missing.git` })))).code).toBe('git_failed');
  });

  it('refuses option injection, odd transports and unallowed hosts before any request', async () => {
    const marker = join(tmpdir(), `cynchro-pwned-${randomBytes(4).toString('hex')}`);
    const requests = git.requests.length;
    const attempts: [Partial<RemoteHeadOptions>, string][] = [
      [{ branch: `--upload-pack=touch ${marker}` }, 'invalid_ref'],
      [{ branch: 'a b' }, 'invalid_ref'],
      [{ branch: 'a..b' }, 'invalid_ref'],
      [{ repoUrl: `--upload-pack=touch ${marker}` }, 'unsafe_url'],
      [{ repoUrl: `ext::sh -c touch% ${marker}` }, 'unsafe_url'],
      [{ repoUrl: `file://${tmpdir()}` }, 'unsafe_url'],
      [{ allowHosts: [] }, 'unsafe_url'],
      [{ repoUrl: `https://${git.host}/app.git`, allowHosts: [] }, 'unsafe_url'],
      [{ token: 'a\nb' }, 'invalid_ref'],
    ];
    for (const [over, code] of attempts) {
      const e = await failure(driver.remoteHead(opts(over)));
      expect(`${JSON.stringify(over)}: ${e.code}`).toBe(`${JSON.stringify(over)}: ${code}`);
    }
    expect(git.requests.length).toBe(requests);
    expect(existsSync(marker)).toBe(false);
  });

  it('gives up after timeoutMs', async () => {
    // A listener that accepts and never answers.
    const net = await import('node:net');
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(silent.address() as { port: number }).port}`;
    try {
      const e = await failure(remoteHead({ repoUrl: `http://${host}/app.git`, branch: 'main', allowHosts: [host], timeoutMs: 500 }, []));
      expect(e.code).toBe('timeout');
    } finally {
      silent.close();
    }
  });
});

describe('headIn', () => {
  it('takes only the exact ref name', () => {
    const a = 'a'.repeat(40);
    const b = 'B'.repeat(40);
    expect(headIn(`${a}\trefs/heads/x/refs/heads/main\n${b}\trefs/heads/main\n`, 'refs/heads/main')).toBe('b'.repeat(40));
    expect(headIn(`${a}\trefs/heads/x/refs/heads/main\n`, 'refs/heads/main')).toBeNull();
    expect(headIn('', 'refs/heads/main')).toBeNull();
  });
});

describe('the fake driver', () => {
  it('answers the head set by setHeadCommit, and fails on demand', async () => {
    const fake = createFakeDockerDriver();
    const sha = 'c'.repeat(40);
    fake.setHeadCommit(sha);
    expect(await fake.remoteHead({ repoUrl: 'https://github.com/acme/api', branch: 'main', token: 't' })).toBe(sha);
    expect(fake.calls.at(-1)).toEqual({ method: 'remoteHead', args: [expect.objectContaining({ token: '***' })] });
    fake.failRemoteHead('unable to access');
    expect((await failure(fake.remoteHead({ repoUrl: 'https://github.com/acme/api', branch: 'main' }))).code).toBe('git_failed');
    fake.failRemoteHead(null);
    expect((await failure(fake.remoteHead({ repoUrl: 'http://github.com/acme/api', branch: 'main' }))).code).toBe('unsafe_url');
    await fake.close();
  });
});
