#!/usr/bin/env node
// `pnpm build [package…]`: compiles every package plain `node` runs (vault, docker-driver, server), the two that users
// install (sdk, cli) and the dashboard the server serves at /ui/ into packages/<p>/dist, in dependency order.
// `--if-stale` skips a package whose inputs (sources, package.json, tsconfigs) are unchanged since its last build and
// whose dependencies were not rebuilt: `pnpm start` calls it that way before every start. Development and tests never
// need dist (they resolve `cynchro-source`), except those that run compiled code or load the built dashboard.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const STAMP = '.build-stamp';

/** In build order; `deps` are the workspace packages whose dist this one compiles against. */
export const PACKAGES = [
  { name: 'vault', deps: [], steps: [['tsc', 'tsconfig.build.json']] },
  { name: 'docker-driver', deps: [], steps: [['tsc', 'tsconfig.build.json']] },
  { name: 'server', deps: ['vault', 'docker-driver'], steps: [['tsc', 'tsconfig.build.json']] },
  { name: 'sdk', deps: ['server'], steps: [['tsc', 'tsconfig.build.json'], ['tsc', 'tsconfig.node.json'], ['node', 'scripts/bundle-dts.mjs']] },
  { name: 'cli', deps: ['sdk'], steps: [['tsc', 'tsconfig.build.json']] },
  // Vite bundles the SDK's sources (not its dist); `sdk` is a dep so that an SDK change rebuilds the dashboard.
  { name: 'dashboard', deps: ['sdk'], steps: [['node', 'scripts/build.mjs']] },
];

function* inputFiles(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* inputFiles(p);
    else if (!e.name.endsWith('.test.ts')) yield p;
  }
}

/** A digest of what a package's build reads: its sources and configs (path, size, mtime), the shared base config, this script. */
export function inputDigest(pkgDir) {
  const files = [...inputFiles(path.join(pkgDir, 'src'))];
  for (const f of fs.readdirSync(pkgDir)) if (f === 'package.json' || /^tsconfig.*\.json$/.test(f)) files.push(path.join(pkgDir, f));
  if (fs.existsSync(path.join(pkgDir, 'scripts'))) files.push(...inputFiles(path.join(pkgDir, 'scripts')));
  files.push(path.join(root, 'tsconfig.base.json'), fileURLToPath(import.meta.url));
  const h = createHash('sha256');
  for (const f of files.sort()) {
    const s = fs.statSync(f);
    h.update(`${path.relative(root, f)}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return h.digest('hex');
}

// tsc's exit code when it found type errors but wrote every output anyway.
const TSC_ERRORS_OUTPUTS_GENERATED = 2;

/** Resolves to whether the step was clean; `tolerateTypeErrors` accepts tsc's type errors when it still emitted. */
function run(cmd, args, cwd, tolerateTypeErrors) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cmd === 'tsc' ? [tsc, '-p', ...args] : args, { cwd, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(true);
      else if (tolerateTypeErrors && cmd === 'tsc' && code === TSC_ERRORS_OUTPUTS_GENERATED) resolve(false);
      else reject(new Error(`${cmd} ${args.join(' ')} in ${path.relative(root, cwd)} failed (${signal ?? code})`));
    });
  });
}

/**
 * Builds the packages (all, or `only` these and what they compile against; with `ifStale`, only those whose inputs
 * changed); resolves to the names it built. `tolerateTypeErrors` (test setups: `pnpm typecheck` is the gate for
 * types) keeps going when tsc reports errors but still emitted. A package is
 * cleaned first, so dist never keeps the output of a deleted source; its stamp is written only after success.
 */
export async function build({ ifStale = false, only, tolerateTypeErrors = false, log = (m) => console.error(m) } = {}) {
  const wanted = new Set();
  const want = (name) => {
    const p = PACKAGES.find((q) => q.name === name);
    if (!p) throw new Error(`no package ${name}`);
    wanted.add(name);
    p.deps.forEach(want);
  };
  (only ?? PACKAGES.map((p) => p.name)).forEach(want);
  const unlock = await lock();
  try {
    return await buildLocked(PACKAGES.filter((p) => wanted.has(p.name)), ifStale, tolerateTypeErrors, log);
  } finally {
    unlock();
  }
}

/**
 * One build at a time in this tree (test runs' global setups, `pnpm start`, a developer's `pnpm build` may start
 * together): a directory created atomically, holding the builder's pid; a lock whose process is gone is taken over.
 */
async function lock() {
  const dir = path.join(root, 'node_modules', '.cynchro-build.lock');
  for (;;) {
    try {
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'pid'), String(process.pid));
      return () => fs.rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8'));
    } catch {
      // created but its pid not written yet
    }
    const orphan = !holder && Date.now() - (fs.statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 10_000;
    if ((holder && !alive(holder)) || orphan) fs.rmSync(dir, { recursive: true, force: true });
    else await new Promise((r) => setTimeout(r, 200));
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

async function buildLocked(packages, ifStale, tolerateTypeErrors, log) {
  const built = [];
  for (const p of packages) {
    const dir = path.join(root, 'packages', p.name);
    const stampFile = path.join(dir, 'dist', STAMP);
    const digest = inputDigest(dir);
    const fresh = ifStale && !p.deps.some((d) => built.includes(d)) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === digest;
    if (fresh) continue;
    const started = Date.now();
    fs.rmSync(path.join(dir, 'dist'), { recursive: true, force: true });
    let clean = true;
    for (const [cmd, ...args] of p.steps) clean = (await run(cmd, args, dir, tolerateTypeErrors)) && clean;
    // Never stamped with type errors: the next build tries again.
    if (clean) fs.writeFileSync(stampFile, digest);
    built.push(p.name);
    log(`built @cynchro/${p.name} in ${((Date.now() - started) / 1000).toFixed(1)} s${clean ? '' : ' (with type errors)'}`);
  }
  return built;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ifStale = process.argv.includes('--if-stale');
  const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  try {
    const built = await build({ ifStale, ...(only.length ? { only } : {}) });
    if (ifStale && built.length === 0) console.error('build: up to date');
  } catch (e) {
    console.error(`build: ${e.message}`);
    process.exit(1);
  }
}
