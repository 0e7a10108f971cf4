// Builds from git against the real engine, with `git http-backend` on 127.0.0.1 standing in for GitHub.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADD_URL_REFUSED, createDockerodeDriver, type BuildFromGitOptions, type DockerDriver } from '../src/index.js';
import { buildBusybox, runLabels } from './helpers/engine.js';
import { failure } from './helpers/failure.js';
import { startGitHttpServer, type GitHttpServer } from './scripts/git-http-server.js';

const labels = runLabels();
let driver: DockerDriver;
let git: GitHttpServer;
let base: string;
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const tag = () => `cynchro-test-git:${randomBytes(4).toString('hex')}`;

function buildDirs(): string[] {
  return readdirSync(tmpdir()).filter((n) => n.startsWith('cynchro-build-'));
}

beforeAll(async () => {
  driver = createDockerodeDriver({ gitAllowHosts: [] });
  base = await buildBusybox(driver, labels);
  git = await startGitHttpServer({ token: TOKEN });
  const contextCheck =
    'RUN ["/bin/sh","-c","test ! -e /ctx/.git && test ! -e /ctx/ignored.txt && test ! -e /ctx/logs/a.log && test -e /ctx/logs/keep.log && test -e /ctx/kept.txt && echo CONTEXT-OK"]';
  git.createRepo('app', {
    Dockerfile: `FROM ${base}\nCOPY . /ctx\n${contextCheck}\nRUN ["/bin/sh","-c","cat /ctx/version"]\n`,
    '.dockerignore': 'ignored.txt\nlogs/*.log\n!logs/keep.log\n',
    'ignored.txt': 'should not be sent',
    'logs/a.log': 'x',
    'logs/keep.log': 'y',
    'kept.txt': 'z',
    version: 'VERSION-ONE\n',
    'sub/Dockerfile.web': `FROM ${base}\nCOPY . /web\nRUN ["/bin/sh","-c","ls /web && cat /web/page"]\n`,
    'sub/page': 'SUBDIR-PAGE\n',
    'escape/Dockerfile': { symlink: '/etc/passwd' },
    'rootlink': { symlink: '/' },
  });
  git.commit('app', { version: 'VERSION-TWO\n' });
  git.createRepo('secret-app', { Dockerfile: `FROM ${base}\nRUN ["/bin/sh","-c","echo PRIVATE-BUILD"]\n` }, { private: true });
  git.createRepo('broken', { Dockerfile: `FROM ${base}\nRUN ["/bin/sh","-c","echo about to fail; exit 7"]\n` });
});

afterAll(async () => {
  await driver?.removeByLabels(labels);
  await driver?.close();
  await git?.close();
});

function opts(over: Partial<BuildFromGitOptions>): BuildFromGitOptions {
  return { repoUrl: `${git.baseUrl}/app.git`, branch: 'main', tag: tag(), labels, allowHosts: [git.host], ...over };
}

describe('buildFromGit', () => {
  it('clones a public repo over http from an allowed host and builds it, .git and .dockerignore respected', async () => {
    const lines: string[] = [];
    const before = buildDirs();
    const o = opts({ onLine: (l) => lines.push(l) });
    const r = await driver.buildFromGit(o);
    expect(r.tag).toBe(o.tag);
    expect(r.commitSha).toMatch(/^[0-9a-f]{40}$/);
    expect(lines).toContain('CONTEXT-OK');
    expect(lines).toContain('VERSION-TWO');
    // The checkout is removed in finally.
    expect(buildDirs().filter((n) => !before.includes(n))).toEqual([]);
    const img = (await driver.listImages(labels)).find((i) => i.id === r.imageId);
    expect(img?.tags).toEqual([o.tag]);
    expect(img?.labels).toMatchObject(labels);
  });

  it('builds a given dockerfile in a given context', async () => {
    const lines: string[] = [];
    await driver.buildFromGit(opts({ context: 'sub', dockerfile: 'Dockerfile.web', onLine: (l) => lines.push(l) }));
    expect(lines).toContain('SUBDIR-PAGE');
  });

  it('checks out a pinned commit that is not the branch head', async () => {
    const head = git.commit('app', { extra: String(Date.now()) });
    const first = (await driver.buildFromGit(opts({}))).commitSha;
    expect(first).toBe(head);
    // A commit behind the head has to be fetched by sha.
    const lines: string[] = [];
    const wanted = git.createRepo('pinned', { Dockerfile: `FROM ${base}\nCOPY version /v\nRUN ["/bin/sh","-c","cat /v"]\n`, version: 'PINNED-OLD\n' });
    git.commit('pinned', { version: 'PINNED-NEW\n' });
    const r = await driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/pinned.git`, commit: wanted, onLine: (l) => lines.push(l) }));
    expect(r.commitSha).toBe(wanted);
    expect(lines).toContain('PINNED-OLD');
    expect(lines).not.toContain('PINNED-NEW');
    // An abbreviated sha works only for the head itself.
    expect((await driver.buildFromGit(opts({ commit: head.slice(0, 10) }))).commitSha).toBe(head);
    expect((await failure(driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/pinned.git`, commit: wanted.slice(0, 10) })))).code).toBe('invalid_ref');
    expect((await failure(driver.buildFromGit(opts({ commit: 'f'.repeat(40) })))).code).toBe('git_failed');
  });

  it('clones a private repo with a token sent only as a header from the environment', async () => {
    const lines: string[] = [];
    const before = buildDirs();
    let checkout: { mode: number; config: string } | undefined;
    const snapshotsBefore = git.processSnapshots.length;
    await driver.buildFromGit(
      opts({
        repoUrl: `${git.baseUrl}/secret-app.git`,
        token: TOKEN,
        onLine: (l) => {
          lines.push(l);
          // While the build runs the checkout still exists: look at how it is kept.
          const dir = buildDirs().find((n) => !before.includes(n));
          if (!checkout && dir && l.startsWith('Step 1/')) {
            const p = join(tmpdir(), dir);
            checkout = { mode: statSync(p).mode & 0o777, config: readFileSync(join(p, 'src/.git/config'), 'utf8') };
          }
        },
      }),
    );
    expect(lines).toContain('PRIVATE-BUILD');
    expect(checkout?.mode).toBe(0o700);
    expect(checkout?.config).toContain('secret-app.git');
    expect(checkout?.config).not.toContain(TOKEN);
    expect(checkout?.config.toLowerCase()).not.toContain('extraheader');
    expect(git.authHeaders).toContain(`Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`);
    const snapshots = git.processSnapshots.slice(snapshotsBefore);
    expect(snapshots.some((s) => s.includes('secret-app.git'))).toBe(true);
    for (const s of snapshots) {
      expect(s).not.toContain(TOKEN);
      expect(s).not.toContain(Buffer.from(`x-access-token:${TOKEN}`).toString('base64'));
    }
    expect(lines.join('\n')).not.toContain(TOKEN);
    expect(buildDirs().filter((n) => !before.includes(n))).toEqual([]);
  });

  it('fails clearly on a missing or wrong token, without the token anywhere in the error', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const lines: string[] = [];
    const e = await failure(driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/secret-app.git`, token: wrong, onLine: (l) => lines.push(l) })));
    expect(e.code).toBe('git_failed');
    expect(e.message).toMatch(/authentication failed/);
    const everything = `${e.message}\n${e.stack}\n${JSON.stringify(e)}\n${lines.join('\n')}`;
    expect(everything).not.toContain(wrong);
    expect(everything).not.toContain(Buffer.from(`x-access-token:${wrong}`).toString('base64'));
    const none = await failure(driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/secret-app.git` })));
    expect(none.code).toBe('git_failed');
    expect(none.message).toMatch(/authentication failed/);
  });

  it('surfaces the builder error line when the build fails', async () => {
    const lines: string[] = [];
    const t = tag();
    const e = await failure(driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/broken.git`, tag: t, onLine: (l) => lines.push(l) })));
    expect(e.code).toBe('build_failed');
    expect(e.message).toContain('returned a non-zero code: 7');
    expect(lines).toContain('about to fail');
    expect(await driver.imageExists(t)).toBe(false);
  });

  it('refuses a repo whose Dockerfile ADDs from a URL before the engine builds it, cleaning up its checkout', async () => {
    // The URL is this git server: had the engine fetched it, the server would have seen the request.
    git.createRepo('add-url', { Dockerfile: `FROM ${base}\nADD ${git.baseUrl}/app.git/info/refs /refs\n` });
    const before = buildDirs();
    const seen = git.requests.length;
    const lines: string[] = [];
    const t = tag();
    const e = await failure(driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/add-url.git`, tag: t, onLine: (l) => lines.push(l) })));
    expect(e.code).toBe('build_failed');
    expect(e.message).toContain(ADD_URL_REFUSED);
    expect(lines.at(-1)).toMatch(/^ERROR: .*ADD from a URL is refused/);
    expect(git.requests.slice(seen).filter((p) => !p.startsWith('/add-url.git/'))).toEqual([]);
    expect(await driver.imageExists(t)).toBe(false);
    expect(buildDirs().filter((n) => !before.includes(n))).toEqual([]);
  });

  it('reports a missing branch and a missing repo as git_failed', async () => {
    const e = await failure(driver.buildFromGit(opts({ branch: 'nope' })));
    expect(e.code).toBe('git_failed');
    expect(e.message).toContain('nope');
    expect((await failure(driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/missing.git` })))).code).toBe('git_failed');
  });

  it('refuses option injection and odd transports before any process or request', async () => {
    const marker = join(tmpdir(), `cynchro-pwned-${randomBytes(4).toString('hex')}`);
    const requests = git.requests.length;
    const before = buildDirs();
    const attempts: [Partial<BuildFromGitOptions>, string][] = [
      [{ branch: `--upload-pack=touch ${marker}` }, 'invalid_ref'],
      [{ branch: '-b' }, 'invalid_ref'],
      [{ branch: 'a b' }, 'invalid_ref'],
      [{ repoUrl: `--upload-pack=touch ${marker}` }, 'unsafe_url'],
      [{ repoUrl: '--foo' }, 'unsafe_url'],
      [{ repoUrl: `ext::sh -c touch% ${marker}` }, 'unsafe_url'],
      [{ repoUrl: `file://${tmpdir()}` }, 'unsafe_url'],
      [{ repoUrl: `${git.baseUrl}/app.git`, allowHosts: [] }, 'unsafe_url'],
      [{ commit: '--output=/tmp/x' }, 'invalid_ref'],
      [{ dockerfile: '../../etc/passwd' }, 'invalid_path'],
      [{ dockerfile: '/etc/passwd' }, 'invalid_path'],
      [{ context: '..' }, 'invalid_path'],
      [{ context: 'sub/../..' }, 'invalid_path'],
      [{ tag: '--force' }, 'invalid_ref'],
    ];
    for (const [over, code] of attempts) {
      const e = await failure(driver.buildFromGit(opts(over)));
      expect(`${JSON.stringify(over)}: ${e.code}`).toBe(`${JSON.stringify(over)}: ${code}`);
    }
    expect(git.requests.length).toBe(requests);
    expect(existsSync(marker)).toBe(false);
    expect(buildDirs().filter((n) => !before.includes(n))).toEqual([]);
  });

  it('refuses https to a private address unless the host is allowed', async () => {
    const requests = git.requests.length;
    const e = await failure(driver.buildFromGit(opts({ repoUrl: `https://${git.host}/app.git`, allowHosts: [] })));
    expect(e.code).toBe('unsafe_url');
    expect(e.message).toMatch(/private address/);
    const l = await failure(driver.buildFromGit(opts({ repoUrl: `https://localhost:1/app.git`, allowHosts: [] })));
    expect(l.code).toBe('unsafe_url');
    expect(git.requests.length).toBe(requests);
  });

  it('refuses a Dockerfile or context that escapes the checkout through a symlink, before building', async () => {
    const t1 = tag();
    const e1 = await failure(driver.buildFromGit(opts({ context: 'escape', tag: t1 })));
    expect(e1.code).toBe('invalid_path');
    expect(e1.message).toMatch(/outside the repository/);
    const e2 = await failure(driver.buildFromGit(opts({ context: 'rootlink', tag: t1 })));
    expect(e2.code).toBe('invalid_path');
    expect(await driver.imageExists(t1)).toBe(false);
  });

  it('does not follow redirects', async () => {
    const e = await failure(driver.buildFromGit(opts({ repoUrl: `${git.baseUrl}/redirect/app.git` })));
    expect(e.code).toBe('git_failed');
    expect(e.message).toMatch(/redirect/);
  });

  it('gives up at the deadline and on abort, cleaning up its checkout', async () => {
    const before = buildDirs();
    const t = await failure(driver.buildFromGit(opts({ timeoutMs: 5 })));
    expect(t.code).toBe('timeout');
    const ac = new AbortController();
    const p = driver.buildFromGit(opts({ signal: ac.signal }));
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toThrow();
    expect(buildDirs().filter((n) => !before.includes(n))).toEqual([]);
  });
});
