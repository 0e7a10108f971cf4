// Starting the ingress process: `node [the same loader flags] ingress-main.{ts,js}` next to the running code, as
// its own session (detached) so that a signal to the control plane's process group does not reach it, with its
// output appended to DATA_DIR/ingress/ingress.log. Nothing else is written by the starter.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** ingress-main beside this file's tree: `.ts` when running from src under tsx, `.js` when running compiled. */
export function ingressEntry(): string {
  const here = fileURLToPath(import.meta.url);
  return path.resolve(path.dirname(here), '..', '..', `ingress-main${path.extname(here) || '.js'}`);
}

/** Diagnostics meant for the control plane (a debugger port, profiles), never for the ingress it starts. */
const NOT_INHERITED = /^--(inspect|debug|cpu-prof|heap-prof|prof|heapsnapshot)/;
const TAKES_VALUE = /^--(inspect-port|debug-port|cpu-prof-(dir|name|interval)|heap-prof-(dir|name|interval)|heapsnapshot-(signal|near-heap-limit))$/;

/**
 * The node flags the ingress runs with: the control plane's own (tsx's loader when it runs under tsx, export
 * conditions), less its diagnostics. A `.ts` entry from a process that has no tsx loader (a test runner
 * transforming TypeScript itself) gets tsx's.
 */
export function ingressExecArgv(entry: string, execArgv: string[] = process.execArgv): string[] {
  if (entry.endsWith('.ts') && !execArgv.some((a) => a.includes('tsx'))) return ['--import', 'tsx'];
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    if (!NOT_INHERITED.test(arg)) kept.push(arg);
    else if (TAKES_VALUE.test(arg)) i++;
  }
  return kept;
}

export interface SpawnIngressOptions {
  entry?: string;
  /** The ingress's whole environment (DATA_DIR, INGRESS_PORT, INGRESS_HOST, LOG_LEVEL, …). */
  env: NodeJS.ProcessEnv;
  logFile: string;
}

export function spawnIngress(o: SpawnIngressOptions): ChildProcess {
  const entry = o.entry ?? ingressEntry();
  const out = fs.openSync(o.logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...ingressExecArgv(entry), entry], {
      detached: true,
      stdio: ['ignore', out, out],
      env: o.env,
      // `--import tsx` resolves from here: inside the workspace, where tsx is installed.
      cwd: path.dirname(entry),
    });
    child.unref();
    return child;
  } finally {
    fs.closeSync(out);
  }
}
