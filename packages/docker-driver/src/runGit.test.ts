import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenSecrets } from './cloneRepo.js';
import { runGit, scrub } from './runGit.js';

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
});
