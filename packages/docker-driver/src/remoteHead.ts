// `git ls-remote` for one branch: where the branch points right now on the remote, without cloning. Same safety
// as cloneRepo: inputs validated first, argv only, a private HOME, only https (http for allowed hosts), no
// redirects, no credential helpers, public addresses only unless the host is allowed, the token in a header set
// from the environment (never in argv or a URL).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenSecrets } from './cloneRepo.js';
import { DockerError } from './DockerError.js';
import { resolvePublicHost } from './resolvePublicHost.js';
import { runGit } from './runGit.js';
import type { RemoteHeadOptions } from './types.js';
import { isAllowedHost, validateBranch, validateRepoUrl } from './validateGitInputs.js';

export const DEFAULT_REMOTE_HEAD_TIMEOUT_MS = 15_000;

/** The full lower-case sha `refs/heads/<branch>` points at on the remote, or null when the branch does not exist. */
export async function remoteHead(o: RemoteHeadOptions, driverAllowHosts: readonly string[]): Promise<string | null> {
  const allowHosts = [...driverAllowHosts, ...(o.allowHosts ?? [])];
  const url = validateRepoUrl(o.repoUrl, allowHosts);
  validateBranch(o.branch);
  if (o.token !== undefined && /[\r\n]/.test(o.token)) throw new DockerError('invalid_ref', 'token must be a single line');

  const allowed = isAllowedHost(url, allowHosts);
  const config = [
    '-c', 'protocol.allow=never',
    '-c', 'protocol.https.allow=always',
    ...(allowed && url.protocol === 'http:' ? ['-c', 'protocol.http.allow=always'] : []),
    '-c', 'http.followRedirects=false',
    '-c', 'credential.helper=',
    '-c', 'core.hooksPath=/dev/null',
    '-c', 'core.fsmonitor=false',
  ];
  if (!allowed) {
    const addrs = await resolvePublicHost(url.hostname);
    const port = url.port || '443';
    config.push('-c', `http.curloptResolve=${url.hostname}:${port}:${addrs.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',')}`);
  }

  const deadline = Date.now() + (o.timeoutMs ?? DEFAULT_REMOTE_HEAD_TIMEOUT_MS);
  const remaining = () => Math.max(deadline - Date.now(), 1);
  // mkdtemp creates the directory 0700: git's HOME (it reads ~/.gitconfig and curl ~/.netrc there) is ours alone.
  const dir = await mkdtemp(join(tmpdir(), 'cynchro-ls-remote-'));
  try {
    const home = join(dir, 'home');
    await mkdir(home, { mode: 0o700 });
    const { env, secrets } = tokenSecrets(o.token);
    const common = { cwd: dir, home, env, secrets, ...(o.signal ? { signal: o.signal } : {}) };
    await runGit(['check-ref-format', '--branch', o.branch], { ...common, timeoutMs: remaining() }).catch((err: unknown) => {
      if (err instanceof DockerError && err.code === 'git_failed') throw new DockerError('invalid_ref', `"${o.branch}" is not a valid branch name`);
      throw err;
    });
    const ref = `refs/heads/${o.branch}`;
    const { stdout } = await runGit([...config, 'ls-remote', '--heads', '--', url.href, ref], { ...common, timeoutMs: remaining() });
    return headIn(stdout, ref);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** ls-remote patterns match ref tails (`refs/heads/x/refs/heads/main` matches `refs/heads/main`): exact names only. */
export function headIn(lsRemoteOutput: string, ref: string): string | null {
  for (const line of lsRemoteOutput.split('\n')) {
    const [sha, name] = line.trim().split(/\s+/);
    if (name === ref && sha && /^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(sha)) return sha.toLowerCase();
  }
  return null;
}
