#!/usr/bin/env node
// `pnpm start`: builds what is stale (the server and the packages it runs), then runs the compiled control plane
// (`node packages/server/dist/main.js`, which starts or adopts the separate ingress process) as a child it supervises:
// - the child dies unexpectedly (crash, SIGKILL): started again after a backoff (1 s doubling to 30 s, back to 1 s
//   once a child has run 60 s), each restart logged; exit code 2 (bad configuration) is final;
// - SIGINT/SIGTERM: forwarded once, and the launcher exits with the child (which stops the ingress too);
// - SIGHUP: rebuilds if stale, then SIGUSR2 to the child (the control plane exits, the ingress keeps serving) and a
//   new child; a failed build leaves the running one alone;
// - the launcher dies: the child sees its IPC channel close and exits too; the ingress outlives both.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from './build.mjs';
import { CONTROL_PLANE_ENV, CONTROL_PLANE_NODE_FLAGS } from './control-plane-process.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'packages', 'server', 'dist', 'main.js');
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_RUN_MS = 60_000;

const log = (msg, fields = {}) => console.error(JSON.stringify({ time: new Date().toISOString(), launcher: true, msg, ...fields }));

let child = null;
let startedAt = 0;
let backoff = MIN_BACKOFF_MS;
let retryTimer = null;
/** null while serving; 'stop' after SIGINT/SIGTERM; 'reload' while SIGHUP's new control plane is due. */
let intent = null;

async function buildIfStale() {
  // Type errors do not keep the server from starting (tsc still emits; `pnpm typecheck`/`pnpm build` report them).
  const built = await build({ ifStale: true, only: ['server', 'dashboard'], tolerateTypeErrors: true, log: (m) => log(m) });
  if (built.length) log('build done', { built });
}

function startChild() {
  retryTimer = null;
  startedAt = Date.now();
  // Its own process group: a terminal's Ctrl-C reaches the launcher only, which forwards it exactly once.
  child = spawn(process.execPath, [...CONTROL_PLANE_NODE_FLAGS, entry], { cwd: root, env: { ...CONTROL_PLANE_ENV, ...process.env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
  log('control plane started', { pid: child.pid });
  child.once('exit', onChildExit);
}

function onChildExit(code, signal) {
  child = null;
  if (intent === 'stop') {
    log('control plane stopped', { code, signal });
    process.exit(code ?? 0);
  }
  if (intent === 'reload') {
    intent = null;
    log('control plane restarted on SIGHUP', { previousExit: code ?? signal });
    startChild();
    return;
  }
  if (code === 2) {
    log('control plane refused its configuration; not restarting', { code });
    process.exit(2);
  }
  if (Date.now() - startedAt >= HEALTHY_RUN_MS) backoff = MIN_BACKOFF_MS;
  log('control plane died; restarting', { code, signal, inMs: backoff });
  // The same build again, not a rebuild: a crash is no time to pick up half-edited sources (SIGHUP does that).
  retryTimer = setTimeout(startChild, backoff);
  backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
}

function stop(signal) {
  if (intent === 'stop') return;
  intent = 'stop';
  if (retryTimer) clearTimeout(retryTimer);
  if (!child) {
    // Down between restarts, or still building the first time: nothing to stop.
    log('stopped', { signal });
    process.exit(0);
  }
  log('stopping', { signal });
  child.kill(signal);
}

async function reload() {
  if (intent) return;
  try {
    await buildIfStale();
  } catch (e) {
    log('build failed on SIGHUP; the running control plane stays', { error: e.message });
    return;
  }
  if (intent) return; // stopped while building
  if (!child) return; // down between restarts: the next start runs the new build
  intent = 'reload';
  child.kill('SIGUSR2');
}

for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => stop(s));
process.on('SIGHUP', () => void reload());

try {
  await buildIfStale();
} catch (e) {
  log('build failed', { error: e.message });
  process.exit(1);
}
startChild();
