// A stand-in for GitHub in tests: `git http-backend` (smart HTTP) behind a tiny node server on 127.0.0.1.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface GitHttpServer {
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  /** host:port, for allowHosts */
  host: string;
  /** Every request path seen, so tests can prove that nothing was fetched. */
  requests: string[];
  /** Authorization headers seen (tests assert on them, never print them). */
  authHeaders: string[];
  /** Command lines of every running process, captured while each request was being served. */
  processSnapshots: string[];
  /** Creates a bare repo `<name>.git` from files (a string is a file; `{ symlink }` a symlink); returns its HEAD sha. */
  createRepo(name: string, files: Record<string, string | { symlink: string }>, opts?: { branch?: string; private?: boolean }): string;
  /** Adds a commit on top of the branch; returns the new sha. */
  commit(name: string, files: Record<string, string>, opts?: { branch?: string }): string;
  close(): Promise<void>;
}

function git(args: string[], cwd: string): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.test', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.test' },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** Private repos accept `Authorization: Basic base64(<any user>:<token>)`, as GitHub does for PATs. */
export async function startGitHttpServer(opts: { token?: string } = {}): Promise<GitHttpServer> {
  const root = mkdtempSync(join(tmpdir(), 'cynchro-git-srv-'));
  const work = mkdtempSync(join(tmpdir(), 'cynchro-git-work-'));
  const privateRepos = new Set<string>();
  const requests: string[] = [];
  const authHeaders: string[] = [];
  const processSnapshots: string[] = [];

  function authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Basic ')) return false;
    const decoded = Buffer.from(h.slice(6), 'base64').toString('utf8');
    return opts.token !== undefined && decoded.slice(decoded.indexOf(':') + 1) === opts.token;
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    if (req.headers.authorization) authHeaders.push(req.headers.authorization);
    // The client's git is alive right now: what does its argv show?
    processSnapshots.push(spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout);
    if (url.pathname.startsWith('/redirect/')) {
      res.writeHead(302, { location: url.pathname.slice('/redirect'.length) + url.search }).end();
      return;
    }
    const repo = url.pathname.split('/')[1] ?? '';
    if (privateRepos.has(repo) && !authorized(req)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end('auth required');
      return;
    }
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        HTTP_CONTENT_ENCODING: String(req.headers['content-encoding'] ?? ''),
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10);
        else res.setHeader(k, v);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on('close', () => res.end());
    cgi.on('error', () => res.writeHead(500).end());
  }

  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  function writeFiles(dir: string, files: Record<string, string | { symlink: string }>): void {
    for (const [rel, content] of Object.entries(files)) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      rmSync(p, { force: true });
      if (typeof content === 'string') writeFileSync(p, content);
      else symlinkSync(content.symlink, p);
    }
  }

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    authHeaders,
    processSnapshots,
    createRepo(name, files, o = {}) {
      const branch = o.branch ?? 'main';
      const wt = join(work, name);
      mkdirSync(wt, { recursive: true });
      git(['init', '-q', '-b', branch], wt);
      writeFiles(wt, files);
      git(['add', '-A'], wt);
      git(['commit', '-q', '-m', 'initial'], wt);
      git(['clone', '-q', '--bare', wt, join(root, `${name}.git`)], work);
      if (o.private) privateRepos.add(`${name}.git`);
      return git(['rev-parse', 'HEAD'], wt);
    },
    commit(name, files, o = {}) {
      const branch = o.branch ?? 'main';
      const wt = join(work, name);
      git(['checkout', '-q', '-B', branch], wt);
      writeFiles(wt, files);
      git(['add', '-A'], wt);
      git(['commit', '-q', '-m', 'change'], wt);
      git(['push', '-q', '--force', join(root, `${name}.git`), `${branch}:${branch}`], wt);
      return git(['rev-parse', 'HEAD'], wt);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(root, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    },
  };
}
