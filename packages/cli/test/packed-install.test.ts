// @cynchro/sdk and @cynchro/cli as users get them: `pnpm pack`ed (the global setup has built dist), installed with
// npm into a fresh project outside the workspace next to typescript from the registry, nothing else. The usage
// file type-checks with skipLibCheck off, and its `@ts-expect-error` lines prove the types are real (an `any` would
// leave them unused, which fails). Then the installed `cynchro` bin works against a live server. Everything lives
// in a new temporary directory per run.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';

const packages = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const typescriptVersion = (JSON.parse(fs.readFileSync(path.join(packages, '..', 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.typescript!;

let dir: string;
let project: string;
let server: LiveServer;

const USAGE = `import { createClient, CynchroError, type App } from '@cynchro/sdk';
import { FileTokenStore } from '@cynchro/sdk/node';

const cynchro = createClient({ url: 'http://127.0.0.1:1', store: new FileTokenStore('/tmp/never-written.json') });

export async function names(): Promise<string[]> {
  const apps = await cynchro.apps.list();
  const first: App | undefined = apps[0];
  const status: 'deploying' | 'running' | 'stopped' | 'failed' | undefined = first?.status;
  // @ts-expect-error: apps have no \`colour\`
  void first?.colour;
  // @ts-expect-error: a name is a string
  const wrong: number = apps[0]!.name;
  void status;
  void wrong;
  return apps.map((a) => a.name);
}

export async function deploy(): Promise<string> {
  const d = await cynchro.deploy({ name: 'hello', image: 'nginx:alpine', port: 80 });
  // @ts-expect-error: port is a number
  await cynchro.deploy({ name: 'hello', image: 'nginx:alpine', port: '80' });
  // @ts-expect-error: no such procedure
  await cynchro.apps.frobnicate();
  return d.deploymentId;
}

export function codeOf(e: unknown): string | undefined {
  return e instanceof CynchroError ? e.code : undefined;
}
`;

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

function pack(pkg: string): string {
  execFileSync('pnpm', ['pack', '--pack-destination', dir], { cwd: path.join(packages, pkg), stdio: ['ignore', 'pipe', 'pipe'] });
  const tarball = fs.readdirSync(dir).find((f) => f.startsWith(`cynchro-${pkg}-`) && f.endsWith('.tgz'));
  if (!tarball) throw new Error(`pnpm pack left no tarball for ${pkg}`);
  return path.join(dir, tarball);
}

function run(cmd: string, args: string[], env: Record<string, string>, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: project, env: { PATH: process.env.PATH ?? '', HOME: dir, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-packed-'));
  project = path.join(dir, 'project');
  fs.mkdirSync(project);
  const [sdk, cli] = [pack('sdk'), pack('cli')];
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'uses-cynchro', private: true, type: 'module' }));
  // ESNext.Disposable: @trpc/server's own declarations name Disposable (as @types/node would also declare).
  fs.writeFileSync(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2023', 'DOM', 'ESNext.Disposable'], types: [], skipLibCheck: false, noEmit: true }, include: ['usage.ts'] }),
  );
  fs.writeFileSync(path.join(project, 'usage.ts'), USAGE);
  npm(['install', '--no-audit', '--no-fund', sdk, cli, `typescript@${typescriptVersion}`], project);
  server = await startLiveServer();
}, 300_000);

afterAll(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

it('the packed packages carry compiled code and self-contained declarations, no workspace package', () => {
  const installed = path.join(project, 'node_modules', '@cynchro');
  expect(fs.readdirSync(installed).sort()).toEqual(['cli', 'sdk']);
  const sdkManifest = JSON.parse(fs.readFileSync(path.join(installed, 'sdk', 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const cliManifest = JSON.parse(fs.readFileSync(path.join(installed, 'cli', 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  expect(Object.keys(sdkManifest.dependencies!).filter((d) => d.startsWith('@cynchro/'))).toEqual([]);
  expect(cliManifest.dependencies).toMatchObject({ '@cynchro/sdk': '0.1.0' });
  expect(cliManifest.dependencies).not.toHaveProperty('tsx');
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/node/index.js', 'dist/node/index.d.ts']) expect(fs.existsSync(path.join(installed, 'sdk', f)), f).toBe(true);
  expect(fs.existsSync(path.join(installed, 'sdk', 'src'))).toBe(false);
  const declarations = fs.readdirSync(path.join(installed, 'sdk', 'dist'), { recursive: true }).filter((f) => String(f).endsWith('.d.ts'));
  for (const f of declarations) expect(fs.readFileSync(path.join(installed, 'sdk', 'dist', String(f)), 'utf8'), String(f)).not.toMatch(/['"]@cynchro\//);
  expect(fs.readFileSync(path.join(installed, 'cli', 'bin', 'cynchro.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  expect(fs.existsSync(path.join(project, 'node_modules', 'tsx'))).toBe(false);
});

it('a usage file type-checks against the installed SDK, and wrong fields and inputs are errors', async () => {
  const ok = await run(process.execPath, [path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {});
  expect(ok.stdout + ok.stderr).toBe('');
  expect(ok.code).toBe(0);
  // The same file without its @ts-expect-error markers: each marked line is a real error.
  fs.writeFileSync(path.join(project, 'usage.ts'), USAGE.replace(/^\s*\/\/ @ts-expect-error.*\n/gm, ''));
  const bad = await run(process.execPath, [path.join(project, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {});
  fs.writeFileSync(path.join(project, 'usage.ts'), USAGE);
  expect(bad.code).not.toBe(0);
  expect(bad.stdout).toContain("Property 'colour' does not exist");
  expect(bad.stdout).toContain("Type 'string' is not assignable to type 'number'");
  expect(bad.stdout).toContain("Property 'frobnicate' does not exist");
  expect(bad.stdout.match(/error TS/g)).toHaveLength(4);
});

it('the installed cynchro bin runs on plain node against a live server', async () => {
  const bin = path.join(project, 'node_modules', '.bin', 'cynchro');
  const env = { XDG_CONFIG_HOME: path.join(dir, 'config') };
  const email = `packed-${Date.now()}@example.com`;
  const reg = await run(bin, ['register', '--url', server.url, '--email', email, '--password-stdin'], env, 'correct horse battery\n');
  expect(reg.stderr).toBe('');
  expect(reg.code).toBe(0);
  expect(reg.stdout).toContain(email);
  const who = await run(bin, ['whoami', '--json'], env);
  expect(who.code).toBe(0);
  expect(JSON.parse(who.stdout)).toMatchObject({ user: { email } });
  const apps = await run(bin, ['apps', 'ls', '--json'], env);
  expect(apps.code).toBe(0);
  expect(JSON.parse(apps.stdout)).toMatchObject({ apps: [] });
  const refused = await run(bin, ['apps', 'get', 'nope'], env);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('app_not_found');
});
