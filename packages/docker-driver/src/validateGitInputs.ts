import { DockerError } from './DockerError.js';

// Anything that could be read as an option, a pathspec trick or a control sequence by git or a terminal.
const CONTROL = /[\u0000-\u001f\u007f]/;

function hostMatches(url: URL, entry: string): boolean {
  const e = entry.trim().toLowerCase();
  if (!e) return false;
  const host = url.hostname.toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const i = e.lastIndexOf(':');
  // `[::1]:8080`, `host:8080` or a bare host (any port).
  if (i > 0 && !e.endsWith(']') && /^\d+$/.test(e.slice(i + 1))) return e.slice(0, i) === host && e.slice(i + 1) === port;
  return e === host;
}

export function isAllowedHost(url: URL, allowHosts: readonly string[]): boolean {
  return allowHosts.some((h) => hostMatches(url, h));
}

/**
 * Only https (http too for allowed hosts); no credentials in the URL (tokens travel in a header),
 * nothing git could parse as an option or a transport helper (`ext::`, `file://`, `--upload-pack`).
 */
export function validateRepoUrl(repoUrl: string, allowHosts: readonly string[]): URL {
  if (typeof repoUrl !== 'string' || repoUrl.length === 0 || repoUrl.length > 2048)
    throw new DockerError('unsafe_url', 'repo URL must be a non-empty string of at most 2048 characters');
  if (repoUrl.startsWith('-') || CONTROL.test(repoUrl) || /\s/.test(repoUrl))
    throw new DockerError('unsafe_url', 'repo URL must not start with "-" or contain spaces or control characters');
  if (repoUrl.includes('::')) throw new DockerError('unsafe_url', 'repo URL must not name a git transport helper ("::")');
  let url: URL;
  try {
    url = new URL(repoUrl);
  } catch {
    throw new DockerError('unsafe_url', 'repo URL is not an absolute URL');
  }
  const allowed = isAllowedHost(url, allowHosts);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowed))
    throw new DockerError('unsafe_url', `repo URL must use https${url.protocol === 'http:' ? ' (http only for allowed hosts)' : ''}`);
  if (url.username || url.password)
    throw new DockerError('unsafe_url', 'repo URL must not carry credentials; pass a token instead');
  if (!url.hostname) throw new DockerError('unsafe_url', 'repo URL has no host');
  return url;
}

/** Lexical checks; `git check-ref-format --branch` runs afterwards (see cloneRepo). */
export function validateBranch(branch: string): void {
  if (typeof branch !== 'string' || branch.length === 0 || branch.length > 255)
    throw new DockerError('invalid_ref', 'branch must be a non-empty string of at most 255 characters');
  if (branch.startsWith('-')) throw new DockerError('invalid_ref', 'branch must not start with "-"');
  if (CONTROL.test(branch) || /\s/.test(branch) || branch.includes('@{'))
    throw new DockerError('invalid_ref', 'branch contains characters a branch name cannot have');
}

export function validateCommit(commit: string): void {
  if (!/^[0-9a-f]{7,40}$/i.test(commit)) throw new DockerError('invalid_ref', 'commit must be a hex sha (7 to 40 characters)');
}

/** Lexical half of the path check; resolveInside does the realpath half once the files exist. */
export function validateRelativePath(p: string, what: string): void {
  if (typeof p !== 'string' || p.length === 0 || p.length > 1024)
    throw new DockerError('invalid_path', `${what} must be a non-empty relative path`);
  if (CONTROL.test(p)) throw new DockerError('invalid_path', `${what} contains control characters`);
  if (p.startsWith('/') || p.startsWith('\\') || /^[a-zA-Z]:/.test(p))
    throw new DockerError('invalid_path', `${what} must be relative (no leading "/")`);
  if (p.split(/[\\/]/).includes('..')) throw new DockerError('invalid_path', `${what} must not contain ".."`);
}
