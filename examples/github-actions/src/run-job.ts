// Runs one job of a workflow here as GitHub's runner would, step by step, for what can run outside GitHub:
// - `run:` steps whose command is `cynchro …` spawn the `cynchro` found on PATH with the argv the shell would give it
//   (no shell in between), with the step's environment: the workflow's `env`, the job's, values written to
//   $GITHUB_ENV by earlier steps, then the step's own `env` with `${{ secrets.… }}` evaluated;
// - other `run:` steps run in bash as GitHub runs them (`bash --noprofile --norc -eo pipefail`), with $GITHUB_ENV;
// - steps named in `standIns` (by id) are not run: the caller did their work (the CLI install: `cynchro` already on
//   PATH), and `uses:` actions (checkout, registry login, build and push, setup-node) are skipped: the caller provides
//   their outcome (an image by the name the workflow computes, Node).
// The job stops at the first step that fails, as on GitHub.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluate, type Contexts, type Step, type Workflow } from './load-workflow.js';
import { shellWords } from './shell-words.js';

export interface StepResult {
  step: Step;
  outcome: 'success' | 'failure' | 'skipped';
  code: number | null;
  stdout: string;
  stderr: string;
  /** For `cynchro` steps: the arguments it ran with. */
  argv?: string[];
  /** The environment the step ran with (its own env and the job's, without the base environment). */
  env: Record<string, string>;
}

export interface RunJobOptions {
  workflow: Workflow;
  /** The job's id; default: the only job. */
  job?: string;
  contexts: Contexts;
  /** What every process starts from: PATH (with `cynchro` on it), HOME, … The runner's own environment, in effect. */
  baseEnv: Record<string, string>;
  /** Steps (by id) the caller stands in for; they are reported as skipped. */
  standIns?: string[];
  /** Each step as it ends. */
  onStep?: (r: StepResult) => void;
}

function exec(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** $GITHUB_ENV's `NAME=value` lines (the heredoc form `NAME<<EOF` is not needed by this example and is refused). */
function readGithubEnv(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const i = line.indexOf('=');
    if (i <= 0) throw new Error(`unsupported $GITHUB_ENV line: ${line}`);
    out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Whether a step runs the Cynchro CLI (its command's first word is `cynchro`). */
export function isCynchroStep(step: Step): boolean {
  return typeof step.run === 'string' && /^\s*cynchro(\s|$)/.test(step.run);
}

export async function runJob(o: RunJobOptions): Promise<StepResult[]> {
  const jobIds = Object.keys(o.workflow.jobs);
  const jobId = o.job ?? (jobIds.length === 1 ? jobIds[0]! : undefined);
  if (!jobId || !o.workflow.jobs[jobId]) throw new Error(`name the job to run: ${jobIds.join(', ')}`);
  const job = o.workflow.jobs[jobId];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-job-'));
  const githubEnvFile = path.join(tmp, 'github-env');
  fs.writeFileSync(githubEnvFile, '');
  const github = o.contexts.github;
  const defaults: Record<string, string> = {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    ...(github.repository ? { GITHUB_REPOSITORY: github.repository } : {}),
    ...(github.sha ? { GITHUB_SHA: github.sha } : {}),
    ...(github.ref ? { GITHUB_REF: github.ref } : {}),
  };
  // env contexts are evaluated level by level: a job's env may read the workflow's.
  let env: Record<string, string> = { ...defaults };
  for (const level of [o.workflow.env, job.env]) {
    for (const [k, v] of Object.entries(level ?? {})) env[k] = evaluate(v, { ...o.contexts, env });
  }
  const results: StepResult[] = [];
  try {
    for (const step of job.steps) {
      env = { ...env, ...readGithubEnv(githubEnvFile) };
      const stepEnv = { ...env };
      for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = evaluate(v, { ...o.contexts, env });
      let r: StepResult;
      if (step.uses || (step.id && o.standIns?.includes(step.id))) {
        r = { step, outcome: 'skipped', code: null, stdout: '', stderr: '', env: stepEnv };
      } else if (isCynchroStep(step)) {
        const [, ...argv] = shellWords(evaluate(step.run!, { ...o.contexts, env: stepEnv }), stepEnv);
        const p = await exec('cynchro', argv, { ...o.baseEnv, ...stepEnv });
        r = { step, outcome: p.code === 0 ? 'success' : 'failure', ...p, argv, env: stepEnv };
      } else {
        const script = evaluate(step.run!, { ...o.contexts, env: stepEnv });
        const p = await exec('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { ...o.baseEnv, ...stepEnv, GITHUB_ENV: githubEnvFile });
        r = { step, outcome: p.code === 0 ? 'success' : 'failure', ...p, env: stepEnv };
      }
      results.push(r);
      o.onStep?.(r);
      if (r.outcome === 'failure') break;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}
