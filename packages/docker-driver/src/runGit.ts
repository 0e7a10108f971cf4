import { spawn } from 'node:child_process';
import { DockerError } from './DockerError.js';
import { abortReason } from './engineCall.js';
import { MAX_LOG_LINE_BYTES, TextLines, TextTail } from './lines.js';

/**
 * git's stderr is kept only this far back (characters): a hostile server can send any amount of `remote:` text,
 * and failures are described from the end of it.
 */
export const GIT_STDERR_TAIL_CHARS = 64 * 1024;
/** git's stdout (rev-parse, ls-remote answers) is kept only this far (characters): nothing we ask for is longer. */
export const GIT_STDOUT_MAX_CHARS = 1024 * 1024;

export interface RunGitOptions {
  cwd: string;
  /** A private directory: git and curl read ~/.gitconfig and ~/.netrc from HOME, so never the operator's. */
  home: string;
  env?: Record<string, string>;
  /** Strings that must never leave this function (token and its encodings). */
  secrets?: string[];
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs: number;
}

export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  return out;
}

const PASS_THROUGH = ['PATH', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'];

/** git with an argv array (never a shell) and an environment built from scratch. */
export function runGit(args: string[], o: RunGitOptions): Promise<{ stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const k of PASS_THROUGH) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  Object.assign(env, {
    HOME: o.home,
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROTOCOL_FROM_USER: '0',
    GIT_LFS_SKIP_SMUDGE: '1',
    ...o.env,
  });
  const secrets = o.secrets ?? [];
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(abortReason(o.signal));
    // Own process group, so a timeout also kills git-remote-http and friends.
    const child = spawn('git', args, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    const stderr = new TextTail(GIT_STDERR_TAIL_CHARS);
    // Progress lines end at \r as well; each is cut to MAX_LOG_LINE_BYTES, linear in what git prints.
    const pending = new TextLines({ maxBytes: MAX_LOG_LINE_BYTES, breakOnCR: true });
    let failure: Error | undefined;
    const kill = (why: Error) => {
      failure ??= why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(
      () => kill(new DockerError('timeout', `git ${args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''} did not finish within ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    const onAbort = () => kill(abortReason(o.signal as AbortSignal));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < GIT_STDOUT_MAX_CHARS) stdout += d.slice(0, GIT_STDOUT_MAX_CHARS - stdout.length);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr.push(d);
      for (const l of pending.push(d)) if (l.trim()) o.onLine?.(scrub(l, secrets));
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      reject(new DockerError('git_failed', `cannot run git: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      for (const l of pending.flush()) if (l.trim()) o.onLine?.(scrub(l, secrets));
      if (failure) return reject(failure);
      const tail = stderr.text();
      // A secret cut in two at the start of the tail would escape scrub(): drop the partial first line.
      const firstBreak = tail.text.search(/\r?\n|\r/);
      const kept = !tail.truncated ? tail.text : firstBreak < 0 ? '' : tail.text.slice(firstBreak + 1);
      if (code !== 0) {
        const err = new DockerError('git_failed', scrub(describeGitFailure(kept), secrets));
        return reject(err);
      }
      resolve({ stdout, stderr: scrub(kept, secrets) });
    });
  });
}

/** Turns git's stderr into one line a user can act on. */
function describeGitFailure(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('Cloning into'));
  const all = lines.join(' ');
  if (/could not read (Username|Password)|Authentication failed|returned error: 40[13]/i.test(all))
    return 'git: authentication failed (is the repo token valid for this repository?)';
  const notFound = /Remote branch (\S+) not found/i.exec(all);
  if (notFound) return `git: branch ${notFound[1]} not found in the repository`;
  if (/returned error: 404|repository '.*' not found/i.test(all)) return 'git: repository not found';
  if (/returned error: 30[1278]/i.test(all)) return 'git: the server answered with a redirect, which is not followed';
  const fatal = lines.filter((l) => /^(fatal|error):/i.test(l));
  return `git: ${(fatal.length ? fatal : lines).slice(-2).join(' ') || 'failed'}`;
}
