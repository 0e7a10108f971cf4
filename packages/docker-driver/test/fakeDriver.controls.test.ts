// The fake's test controls, as the server's tests use them.
import { describe, expect, it } from 'vitest';
import { createFakeDockerDriver, LABELS } from '../src/index.js';

const labels = { [LABELS.managed]: 'true', [LABELS.org]: 'o1', [LABELS.app]: 'a1', [LABELS.deployment]: 'd1', [LABELS.service]: 'app' };

describe('fake driver controls', () => {
  it('fails builds, pulls and health on request, and records what it was asked', async () => {
    const d = createFakeDockerDriver();
    d.failBuild('https://git.example/broken.git', "The command '/bin/sh -c make' returned a non-zero code: 2");
    const lines: string[] = [];
    await expect(
      d.buildFromGit({ repoUrl: 'https://git.example/broken.git', branch: 'main', tag: 'app:1', labels, token: 't0k', onLine: (l) => lines.push(l) }),
    ).rejects.toMatchObject({ code: 'build_failed', message: expect.stringContaining('non-zero code: 2') });
    expect(lines.at(-1)).toContain('non-zero code: 2');
    expect(d.lastGitBuild()?.token).toBe('t0k');
    expect(JSON.stringify(d.calls)).not.toContain('t0k');
    d.setHeadCommit('a'.repeat(40));
    const ok = await d.buildFromGit({ repoUrl: 'https://git.example/ok.git', branch: 'main', tag: 'app:2', labels });
    expect(ok.commitSha).toBe('a'.repeat(40));
    const c = await d.runContainer({ name: 'web', image: 'app:2', port: 8080, labels, secretFiles: { K: 'v' } });
    await d.waitHealthy(c.id, { timeoutMs: 1000 });
    d.failHealth('app:2');
    await expect(d.waitHealthy(c.id, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'health_timeout' });
    d.crash(c.id);
    expect(d.secretFilesOf(c.id)).toEqual({ K: 'v' });
    expect((await d.inspectContainer(c.id))?.running).toBe(true);
    await expect(d.runContainer({ name: 'web', image: 'app:2', labels })).rejects.toMatchObject({ code: 'engine' });
    expect(d.calls.map((x) => x.method)).toContain('runContainer');
  });
});
