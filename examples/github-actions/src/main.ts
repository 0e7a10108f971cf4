// Rehearse the workflow from your machine, against your server, before pushing it: the same steps GitHub runs
// (.github/workflows/deploy.yml), with the workspace's `cynchro` standing in for `npm install --global @cynchro/cli`
// and the image already pushed (or built on the server's engine) under the name the workflow computes.
//
//   CYNCHRO_URL=https://cynchro.example.com CYNCHRO_TOKEN=cyn_… CYNCHRO_APP=myapp \
//   GITHUB_REPOSITORY=acme/myapp GITHUB_SHA=$(git rev-parse HEAD) pnpm --filter @cynchro/example-github-actions start
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { loadWorkflow, type Contexts } from './load-workflow.js';
import { runJob, type StepResult } from './run-job.js';

/** The workflow GitHub runs, as shipped in this example. */
export const WORKFLOW_FILE = fileURLToPath(new URL('../.github/workflows/deploy.yml', import.meta.url));
/** Where `cynchro` is once this package's dependencies are installed: the workspace CLI. */
export const CLI_BIN_DIR = fileURLToPath(new URL('../node_modules/.bin', import.meta.url));
/** The step that installs the CLI on GitHub's runner; here `cynchro` comes from CLI_BIN_DIR instead. */
export const INSTALL_STEP = 'install-cli';

export interface RehearseOptions {
  contexts: Contexts;
  /** The environment of every step, PATH aside (CLI_BIN_DIR is put first on it). */
  env: Record<string, string>;
  onStep?: (r: StepResult) => void;
}

/** Runs the workflow's job; resolves with every step's result (the job stops at the first failure). */
export function rehearse(o: RehearseOptions): Promise<StepResult[]> {
  return runJob({
    workflow: loadWorkflow(WORKFLOW_FILE),
    contexts: o.contexts,
    baseEnv: { ...o.env, PATH: [CLI_BIN_DIR, o.env.PATH ?? process.env.PATH ?? ''].join(path.delimiter) },
    standIns: [INSTALL_STEP],
    ...(o.onStep ? { onStep: o.onStep } : {}),
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  const results = await rehearse({
    contexts: {
      secrets: { CYNCHRO_URL: env.CYNCHRO_URL ?? '', CYNCHRO_TOKEN: env.CYNCHRO_TOKEN ?? '' },
      vars: { CYNCHRO_APP: env.CYNCHRO_APP ?? '' },
      github: { repository: env.GITHUB_REPOSITORY ?? '', sha: env.GITHUB_SHA ?? '', ref: 'refs/heads/main' },
    },
    // Only what a fresh runner has: no CYNCHRO_* of this shell leaks into the steps except through the workflow.
    env: { PATH: env.PATH ?? '', HOME: env.HOME ?? '', ...(env.XDG_CONFIG_HOME ? { XDG_CONFIG_HOME: env.XDG_CONFIG_HOME } : {}) },
    onStep: (r) => {
      const title = r.step.name ?? r.step.uses ?? r.step.run ?? '';
      console.log(`${r.outcome === 'success' ? '✓' : r.outcome === 'skipped' ? '-' : '✗'} ${title}${r.outcome === 'skipped' ? ' (skipped here)' : ''}`);
      if (r.stdout) process.stdout.write(r.stdout.replace(/^/gm, '    '));
      if (r.stderr) process.stderr.write(r.stderr.replace(/^/gm, '    '));
    },
  });
  process.exit(results.some((r) => r.outcome === 'failure') ? 1 : 0);
}
