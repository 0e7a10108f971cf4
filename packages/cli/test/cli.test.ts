// The `cynchro` bin end to end, as a user runs it: its own process, a live server, the real Docker engine.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, runCli, type CliResult } from './run-cli.js';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';

const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

const WEB = [
  'RUN ["/bin/sh","-c","mkdir /www && echo hello from the cli > /www/index.html"]',
  `CMD ["/bin/sh","-c","trap 'exit 0' TERM; echo app-started; (i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done) & httpd -f -p 8080 -h /www & wait"]`,
].join('\n');

let server: LiveServer;
let image: string;
let config: string;
const driver = createDockerodeDriver();
const labels = imageLabels();
const user = { email: `${uniq('cli')}@example.com`, password: 'cli password 1' };
const created: string[] = [];

type Result = CliResult;

const cynchro = (args: string[], env: Record<string, string> = {}): Promise<Result> => runCli(config, args, { env: { CYNCHRO_TOKEN: '', CYNCHRO_PASSWORD: '', ...env } });

/** The bin with `input` on its standard input (then closed), as `echo … | cynchro …` runs it. */
function cynchroIn(args: string[], input: string, env: Record<string, string> = {}): Promise<Result> {
  return runCli(config, args, { input, env });
}

const json = <T = Record<string, unknown>>(r: Result): T => {
  expect(r.stderr === '' || r.code === 0).toBe(true);
  return JSON.parse(r.stdout) as T;
};

beforeAll(async () => {
  config = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-config-'));
  [server, image] = await Promise.all([startLiveServer({ ADMIN_EMAILS: user.email }), buildBusybox(driver, labels, WEB)]);
}, 120_000);

afterAll(async () => {
  for (const name of created) await cynchro(['apps', 'rm', name]);
  await server?.stop();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
  fs.rmSync(config, { recursive: true, force: true });
}, 60_000);

describe('usage and sessions', () => {
  it('usage errors exit 2; API errors exit 1 with the code and message', async () => {
    expect((await cynchro([])).code).toBe(2);
    const unknown = await cynchro(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
    expect((await cynchro(['deploy'])).code).toBe(2);
    expect((await cynchro(['deploy', 'x', '--image', 'a', '--repo', 'https://example.com/r'])).code).toBe(2);
    expect((await cynchro(['apps', 'ls', '--bogus-flag'])).code).toBe(2);
    const help = await cynchro(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: cynchro');
    const notLoggedIn = await cynchro(['apps', 'ls']);
    expect(notLoggedIn.code).toBe(1);
    expect(notLoggedIn.stderr).toContain('not_logged_in');
  });

  it('register, then the session file is 0600 in a 0700 directory, with the url and tokens', async () => {
    const r = await cynchroIn(['register', '--url', server.url, '--email', user.email, '--password-stdin', '--name', 'Cli'], `${user.password}\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`as ${user.email}`);
    const file = path.join(config, 'cynchro', 'credentials.json');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>;
    expect(saved).toMatchObject({ url: server.url, email: user.email });
    expect(saved.accessToken).toBeTruthy();
    expect(saved.refreshToken).toBeTruthy();
  });

  it('whoami, logout (tokens forgotten), login again; bad credentials exit 1', async () => {
    expect((await cynchro(['whoami'])).stdout).toContain(user.email);
    expect((await cynchro(['logout'])).code).toBe(0);
    const file = JSON.parse(fs.readFileSync(path.join(config, 'cynchro', 'credentials.json'), 'utf8')) as Record<string, string>;
    expect(file.accessToken).toBeUndefined();
    expect((await cynchro(['whoami'])).code).toBe(1);
    const bad = await cynchro(['login', '--email', user.email, '--password', 'wrong password']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid_credentials');
    // A password on the command line still works, with a warning on stderr.
    expect(bad.stderr).toMatch(/^warning: --password on the command line is visible to other users.*--password-stdin/m);
    const viaStdin = await cynchroIn(['login', '--email', user.email, '--password-stdin'], `${user.password}\n`);
    expect(viaStdin.code).toBe(0);
    expect(viaStdin.stderr).toBe('');
    expect((await cynchroIn(['login', '--password-stdin'], `${user.password}\n`)).code).toBe(2); // needs --email
    // The URL is remembered from the file; the password can come from the environment.
    const ok = await cynchro(['login', '--email', user.email], { CYNCHRO_PASSWORD: user.password });
    expect(ok.code).toBe(0);
    expect(json(await cynchro(['whoami', '--json']))).toMatchObject({ user: { email: user.email } });
  });
});

describe('admin and secrets', () => {
  it('admin claim: forbidden before, a wrong token refused, the token from stdin or a file accepted', async () => {
    const before = await cynchro(['admin', 'status']);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain('forbidden');
    const wrong = await cynchroIn(['admin', 'claim'], 'not-the-operator-token-at-all-0123456789\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('error: forbidden');
    const tokenFile = path.join(server.dataDir, 'operator-token');
    const piped = await cynchroIn(['admin', 'claim'], fs.readFileSync(tokenFile, 'utf8'));
    expect(piped.stderr).toBe('');
    expect(piped.code).toBe(0);
    expect(json(await cynchro(['admin', 'claim', '--token-file', tokenFile, '--json']))).toEqual({ operator: true });
    const onArgv = await cynchro(['admin', 'claim', readOperatorToken(server.dataDir)]);
    expect(onArgv.code).toBe(0);
    expect(onArgv.stderr).toMatch(/^warning: the operator token on the command line/m);
  });

  it('admin status / unseal / seal', async () => {
    expect(json(await cynchro(['admin', 'status', '--json']))).toEqual({ sealed: true });
    const key = randomBytes(32).toString('hex');
    const u = await cynchro(['admin', 'unseal'], { CYNCHRO_MASTER_KEY: key });
    expect(u.code).toBe(0);
    expect(u.stderr).toBe('');
    expect(u.stdout).toContain('initialized');
    expect((await cynchro(['admin', 'seal'])).stdout.trim()).toBe('sealed');
    const wrong = await cynchroIn(['admin', 'unseal', '--json'], `${randomBytes(32).toString('hex')}\n`);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stderr.slice(wrong.stderr.indexOf('{')))).toMatchObject({ error: 'invalid_key', status: 400 });
    const onArgv = await cynchro(['admin', 'unseal', key, '--json']);
    expect(json({ ...onArgv, stderr: '' })).toEqual({ sealed: false, outcome: 'unsealed' });
    expect(onArgv.stderr).toMatch(/^warning: the master key on the command line/m);
  });

  it('secrets set / ls / get / rm', async () => {
    const s = await cynchro(['secrets', 'set', 'api-keys', 'TOKEN=abc=def', 'OTHER=1']);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('OTHER, TOKEN');
    const ls = json<{ secrets: { name: string; keys: string[] }[] }>(await cynchro(['secrets', 'ls', '--json']));
    expect(ls.secrets).toEqual([expect.objectContaining({ name: 'api-keys', keys: ['OTHER', 'TOKEN'] })]);
    expect(JSON.stringify(ls)).not.toContain('abc=def');
    expect((await cynchro(['secrets', 'ls'])).stdout).toMatch(/api-keys\s+org\s+OTHER,TOKEN/);
    expect((await cynchro(['secrets', 'set', 'x', 'novalue'])).code).toBe(2);
    expect((await cynchro(['secrets', 'rm', 'api-keys'])).code).toBe(0);
    const gone = await cynchro(['secrets', 'get', 'api-keys']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('unknown_secret');
  });
});

describe('deploy, apps, logs (real engine)', () => {
  const name = uniq('cli-web');

  it('deploy --wait streams progress and succeeds', async () => {
    const r = await cynchro(['deploy', name, '--image', image, '--port', '8080', '--env', 'GREETING=hi', '--env', 'B=2', '--memory', '128', '--cpu', '0.5', '--replicas', '2', '--wait']);
    created.push(name);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Deploying ${name} → http://${name}.localhost:${server.env.INGRESS_PORT}`);
    expect(r.stdout).toContain('traffic switched');
    expect(r.stdout).toMatch(/Deployment \S+ succeeded/);
  }, 120_000);

  it('apps ls / get by name, with --json for scripts', async () => {
    const ls = json<{ apps: { name: string; status: string; envKeys: string[] }[] }>(await cynchro(['apps', 'ls', '--json']));
    expect(ls.apps.find((a) => a.name === name)).toMatchObject({ status: 'running', envKeys: ['GREETING', 'B'], services: [{ replicas: 2 }] });
    const human = await cynchro(['apps', 'ls']);
    expect(human.stdout).toMatch(new RegExp(`^NAME\\s+ID\\s+STATUS`, 'm'));
    expect(human.stdout).toMatch(new RegExp(`^${name}\\s+\\S+\\s+running`, 'm'));
    const get = await cynchro(['apps', 'get', name]);
    expect(get.stdout).toContain('status:      running');
    expect(get.stdout).toContain('succeeded');
    const detail = json<{ app: { id: string } }>(await cynchro(['apps', 'get', name, '--json']));
    expect((await cynchro(['apps', 'get', detail.app.id])).code).toBe(0);
    // Image apps have no webhook to rotate.
    const rot = await cynchro(['apps', 'rotate-webhook', name]);
    expect(rot.code).toBe(1);
    expect(rot.stderr).toContain('error: conflict');
  });

  it('logs --tail, and logs -f prints live lines until interrupted, then exits 0', async () => {
    await expect
      .poll(async () => (await cynchro(['logs', name, '--tail', '50'])).stdout, { timeout: 15_000 })
      .toContain('app-started');
    const nd = (await cynchro(['logs', name, '--tail', '2', '--json'])).stdout.trim().split('\n');
    expect(nd).toHaveLength(2);
    expect(JSON.parse(nd[0]!)).toMatchObject({ service: 'app', stream: 'stdout' });

    const child = spawn(process.execPath, [bin, 'logs', name, '-f', '--tail', '1'], { env: { ...process.env, XDG_CONFIG_HOME: config } });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no live lines: ${out} ${err}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if ((out.match(/^tick \d+$/gm) ?? []).length >= 3) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(err).toBe('');
  }, 40_000);

  it('a failing deploy --wait exits 1 with deployment_failed', async () => {
    const bad = uniq('cli-bad');
    const r = await cynchro(['deploy', bad, '--image', `cynchro-test-missing/${uniq('img')}:1`, '--wait']);
    created.push(bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: deployment_failed: .+/m);
  }, 120_000);

  it('validation errors print the fields; --json errors are JSON on stderr', async () => {
    const r = await cynchro(['deploy', 'Not_DNS', '--image', image, '--port', '70000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: validation');
    expect(r.stderr).toMatch(/^ {2}name: /m);
    expect(r.stderr).toMatch(/^ {2}port: /m);
    const j = await cynchro(['apps', 'get', 'no-such-app', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: 'app_not_found', status: 404 });
  });

  it('apps stop / restart / rm by name', async () => {
    expect((await cynchro(['apps', 'stop', name])).stdout).toContain('stopped');
    expect((await cynchro(['apps', 'restart', name])).code).toBe(0);
    const rm = await cynchro(['apps', 'rm', name]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain(`Deleted ${name}`);
    const gone = await cynchro(['apps', 'get', name]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('app_not_found');
  }, 60_000);
});
