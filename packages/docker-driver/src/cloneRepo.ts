import { mkdir } from 'node:fs/promises';
import { DockerError } from './DockerError.js';
import { runGit } from './runGit.js';
import { isAllowedHost } from './validateGitInputs.js';
import { resolvePublicHost } from './resolvePublicHost.js';

export interface CloneOptions {
  url: URL;
  branch: string;
  commit?: string;
  token?: string;
  allowHosts: readonly string[];
  /** Private (0700) directory owned by the caller; the checkout goes to `<dir>/src`, HOME is `<dir>/home`. */
  dir: string;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs: number;
}

export function tokenSecrets(token: string | undefined): { env: Record<string, string>; secrets: string[] } {
  if (!token) return { env: {}, secrets: [] };
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  // From the environment, the header never shows in argv (ps) or in .git/config.
  return {
    env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` },
    secrets: [token, basic, encodeURIComponent(token)],
  };
}

/** Shallow clone of one branch (optionally pinned to a commit); returns the checked-out sha. */
export async function cloneRepo(o: CloneOptions): Promise<{ checkout: string; commitSha: string }> {
  const allowed = isAllowedHost(o.url, o.allowHosts);
  const config = [
    '-c', 'protocol.allow=never',
    '-c', 'protocol.https.allow=always',
    ...(allowed && o.url.protocol === 'http:' ? ['-c', 'protocol.http.allow=always'] : []),
    '-c', 'http.followRedirects=false',
    '-c', 'credential.helper=',
    '-c', 'core.hooksPath=/dev/null',
    '-c', 'core.fsmonitor=false',
    '-c', 'submodule.recurse=false',
    '-c', 'fetch.recurseSubmodules=false',
  ];
  if (!allowed) {
    const addrs = await resolvePublicHost(o.url.hostname);
    const port = o.url.port || '443';
    const list = addrs.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',');
    config.push('-c', `http.curloptResolve=${o.url.hostname}:${port}:${list}`);
  }
  const home = `${o.dir}/home`;
  const checkout = `${o.dir}/src`;
  const { env, secrets } = tokenSecrets(o.token);
  const common = { home, env, secrets, timeoutMs: o.timeoutMs, ...(o.signal ? { signal: o.signal } : {}), ...(o.onLine ? { onLine: o.onLine } : {}) };
  await mkdir(home, { mode: 0o700 });

  // check-ref-format is the authority on branch names; the lexical checks already ruled out option-like input.
  await runGit(['check-ref-format', '--branch', o.branch], { ...common, cwd: o.dir }).catch((err: unknown) => {
    if (err instanceof DockerError && err.code === 'git_failed') throw new DockerError('invalid_ref', `"${o.branch}" is not a valid branch name`);
    throw err;
  });
  await runGit(
    [...config, 'clone', '--quiet', '--depth', '1', '--single-branch', '--no-tags', '--no-recurse-submodules', '--template=', '--branch', o.branch, '--', o.url.href, checkout],
    { ...common, cwd: o.dir },
  );
  let head = (await runGit(['rev-parse', 'HEAD'], { ...common, cwd: checkout })).stdout.trim();
  if (o.commit) {
    const want = o.commit.toLowerCase();
    if (!head.startsWith(want)) {
      if (want.length !== 40)
        throw new DockerError('invalid_ref', `commit ${want} is not the head of ${o.branch}; pass the full 40-character sha`);
      await runGit([...config, 'fetch', '--quiet', '--depth', '1', '--no-tags', 'origin', want], { ...common, cwd: checkout }).catch((err: unknown) => {
        if (err instanceof DockerError && err.code === 'git_failed') throw new DockerError('git_failed', `commit ${want} not found in the repository (${err.message})`);
        throw err;
      });
      await runGit(['checkout', '--quiet', '--detach', want], { ...common, cwd: checkout });
      head = (await runGit(['rev-parse', 'HEAD'], { ...common, cwd: checkout })).stdout.trim();
      if (head !== want) throw new DockerError('git_failed', `checked out ${head}, expected ${want}`);
    }
  }
  return { checkout, commitSha: head };
}
