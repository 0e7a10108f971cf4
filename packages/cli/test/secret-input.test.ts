// Secrets reach the CLI without the command line: passwords from --password-stdin or CYNCHRO_PASSWORD, repo tokens
// from --repo-token-stdin or CYNCHRO_REPO_TOKEN, the operator token from stdin or a file; given as arguments they
// still work, with a warning on stderr. The bin runs as its own process against a stand-in API that records what
// it receives (no Docker needed).
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

let api: http.Server;
let url: string;
let config: string;
const received: { path: string; input: any }[] = [];

const user = { id: 'usr_1', email: 'ada@example.com', name: null, createdAt: '2026-01-01T00:00:00.000Z' };
const answers: Record<string, unknown> = {
  'auth.login': { user, accessToken: 'a.b.c', refreshToken: 'r', orgId: 'org_1', expiresIn: 900 },
  'auth.register': { user, accessToken: 'a.b.c', refreshToken: 'r', orgId: 'org_1', expiresIn: 900 },
  deploy: { appId: 'app_1', deploymentId: 'dep_1', domain: 'x.localhost', url: 'http://x.localhost:8080', status: 'queued', webhook: null },
  'admin.claim': { operator: true },
};

beforeAll(async () => {
  api = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const p = (req.url ?? '').replace(/^\/trpc\//, '').split('?')[0]!;
      received.push({ path: p, input: body ? (JSON.parse(body) as { json?: unknown }).json : undefined });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ result: { data: { json: answers[p] ?? {} } } }));
    });
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  config = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-secrets-'));
});
afterAll(async () => {
  await new Promise((r) => api.close(r));
  fs.rmSync(config, { recursive: true, force: true });
});
beforeEach(() => {
  received.length = 0;
  // A stored session, as `cynchro login` leaves it.
  fs.mkdirSync(path.join(config, 'cynchro'), { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(config, 'cynchro', 'credentials.json'), JSON.stringify({ url, email: user.email, accessToken: 'a.b.c', refreshToken: 'r' }), { mode: 0o600 });
});

const cynchro = (args: string[], input = '', env: Record<string, string> = {}) => runCli(config, args, { input, env: { CYNCHRO_REPO_TOKEN: '', CYNCHRO_OPERATOR_TOKEN: '', ...env } });

const sent = (p: string) => received.find((r) => r.path === p)?.input;

describe('passwords', () => {
  it('--password-stdin reads the first line of stdin; nothing on stderr', async () => {
    const r = await cynchro(['login', '--url', url, '--email', user.email, '--password-stdin'], 'pass word with spaces \n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(sent('auth.login')).toEqual({ email: user.email, password: 'pass word with spaces ' });
  });

  it('CYNCHRO_PASSWORD works without a warning', async () => {
    const r = await cynchro(['login', '--url', url, '--email', user.email], '', { CYNCHRO_PASSWORD: 'from the env' });
    expect(r.stderr).toBe('');
    expect(sent('auth.login').password).toBe('from the env');
  });

  it('--password on the command line still works, with a warning on stderr', async () => {
    const r = await cynchro(['register', '--url', url, '--email', user.email, '--password', 'on the argv'], '');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: --password on the command line is visible to other users/m);
    expect(sent('auth.register').password).toBe('on the argv');
  });

  it('--password-stdin with nothing on stdin, or without --email, is a usage error', async () => {
    expect((await cynchro(['login', '--url', url, '--email', user.email, '--password-stdin'], '')).code).toBe(2);
    expect((await cynchro(['login', '--url', url, '--password-stdin'], 'pw\n')).code).toBe(2);
    expect(received).toEqual([]);
  });
});

describe('repo tokens', () => {
  const repo = ['deploy', 'api', '--repo', 'https://github.com/acme/api'];

  it('--repo-token-stdin reads the token from stdin', async () => {
    const r = await cynchro([...repo, '--repo-token-stdin'], 'ghp_fromstdin\n');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(sent('deploy')).toMatchObject({ name: 'api', repo: 'https://github.com/acme/api', repoToken: 'ghp_fromstdin' });
  });

  it('CYNCHRO_REPO_TOKEN works without a warning (and only for repo deploys)', async () => {
    const r = await cynchro(repo, '', { CYNCHRO_REPO_TOKEN: 'ghp_fromenv' });
    expect(r.stderr).toBe('');
    expect(sent('deploy').repoToken).toBe('ghp_fromenv');
    received.length = 0;
    await cynchro(['deploy', 'web', '--image', 'nginx:1'], '', { CYNCHRO_REPO_TOKEN: 'ghp_fromenv' });
    expect(sent('deploy').repoToken).toBeUndefined();
  });

  it('--repo-token on the command line still works, with a warning', async () => {
    const r = await cynchro([...repo, '--repo-token', 'ghp_onargv']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: --repo-token on the command line/m);
    expect(sent('deploy').repoToken).toBe('ghp_onargv');
  });
});

describe('the operator token', () => {
  it('admin claim reads it from stdin or --token-file; on the command line it warns', async () => {
    expect((await cynchro(['admin', 'claim'], 'tok-from-stdin\n')).stderr).toBe('');
    expect(sent('admin.claim')).toEqual({ token: 'tok-from-stdin' });
    received.length = 0;
    const file = path.join(config, 'operator-token');
    fs.writeFileSync(file, 'tok-from-file\n');
    const r = await cynchro(['admin', 'claim', '--token-file', file, '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ operator: true });
    expect(sent('admin.claim')).toEqual({ token: 'tok-from-file' });
    received.length = 0;
    const argv = await cynchro(['admin', 'claim', 'tok-on-argv']);
    expect(argv.stderr).toMatch(/^warning: the operator token on the command line/m);
    expect(sent('admin.claim')).toEqual({ token: 'tok-on-argv' });
    expect((await cynchro(['admin', 'claim'], '')).code).toBe(2);
  });
});
