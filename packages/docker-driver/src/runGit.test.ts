import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenSecrets } from './cloneRepo.js';
import { MAX_LOG_LINE_BYTES, truncationMarker } from './lines.js';
import { GIT_STDERR_TAIL_CHARS, runGit, scrub } from './runGit.js';

describe('runGit', () => {
  it('puts the token only in the environment and scrubs every encoding of it', () => {
    const { env, secrets } = tokenSecrets('ghp_abc+/=');
    expect(env).toEqual({
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.extraHeader',
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${Buffer.from('x-access-token:ghp_abc+/=').toString('base64')}`,
    });
    const leaked = `token ghp_abc+/= header ${env.GIT_CONFIG_VALUE_0} url ${encodeURIComponent('ghp_abc+/=')}`;
    const clean = scrub(leaked, secrets);
    expect(clean).not.toContain('ghp_abc');
    expect(clean).not.toContain(Buffer.from('x-access-token:ghp_abc+/=').toString('base64'));
    expect(tokenSecrets(undefined)).toEqual({ env: {}, secrets: [] });
  });

  it('runs git without a shell, with a private HOME, and reports failures scrubbed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cynchro-rungit-'));
    try {
      const { stdout } = await runGit(['config', '--show-origin', '--list'], { cwd: dir, home: dir, timeoutMs: 10_000, env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'x.y', GIT_CONFIG_VALUE_0: 'SECRET' } });
      // Only the value from the environment: no system or global config leaks in.
      expect(stdout.trim()).toBe('command line:\tx.y=SECRET');
      await expect(
        runGit(['rev-parse', 'SECRET-ref'], { cwd: dir, home: dir, timeoutMs: 10_000, secrets: ['SECRET'] }),
      ).rejects.toMatchObject({ code: 'git_failed', message: expect.not.stringContaining('SECRET') });
      // A git that hangs (here: an alias running sleep) is killed with its whole process group at the deadline.
      const t0 = Date.now();
      await expect(runGit(['-c', 'alias.hang=!sleep 30', 'hang'], { cwd: dir, home: dir, timeoutMs: 200 })).rejects.toMatchObject({ code: 'timeout' });
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps only the end of what git prints on stderr, and cuts its lines', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cynchro-rungit-'));
    try {
      // 1 MB on one line (as a hostile server's "remote:" text could be), then a last line.
      const noisy = '!head -c 1000000 /dev/zero | tr "\\0" x >&2; echo >&2; echo THE-END >&2';
      const lines: string[] = [];
      const ok = await runGit(['-c', `alias.noisy=${noisy}; true`, 'noisy'], { cwd: dir, home: dir, timeoutMs: 20_000, onLine: (l) => lines.push(l) });
      expect(ok.stderr.length).toBeLessThanOrEqual(GIT_STDERR_TAIL_CHARS);
      expect(ok.stderr).toBe('THE-END\n');
      expect(lines).toEqual(['x'.repeat(MAX_LOG_LINE_BYTES) + truncationMarker(1_000_000 - MAX_LOG_LINE_BYTES), 'THE-END']);
      await expect(runGit(['-c', `alias.noisy=${noisy}; exit 3`, 'noisy'], { cwd: dir, home: dir, timeoutMs: 20_000 })).rejects.toMatchObject({
        code: 'git_failed',
        message: 'git: THE-END',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
