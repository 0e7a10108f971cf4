// A GitHub Actions workflow file, read with the `yaml` parser, and the `${{ … }}` expressions this example uses.
import fs from 'node:fs';
import { parse } from 'yaml';

export interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}

export interface Job {
  'runs-on': string;
  env?: Record<string, string>;
  steps: Step[];
}

export interface Workflow {
  name: string;
  on: unknown;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

/** What `${{ … }}` can read: the repository's secrets and variables, the event's github context, the job's env. */
export interface Contexts {
  secrets: Record<string, string>;
  vars: Record<string, string>;
  github: Record<string, string>;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v)) throw new Error(`${where} must be a mapping`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new Error(`${where}.${k} must be a scalar`);
    out[k] = String(x);
  }
  return out;
}

/** Parses and checks the parts this example relies on (jobs of steps, each a `run` or a `uses`). */
export function loadWorkflow(file: string): Workflow {
  const doc = parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (!isRecord(doc) || typeof doc.name !== 'string' || !isRecord(doc.jobs)) throw new Error(`${file}: not a workflow (name and jobs expected)`);
  const jobs: Record<string, Job> = {};
  for (const [id, j] of Object.entries(doc.jobs)) {
    if (!isRecord(j) || typeof j['runs-on'] !== 'string' || !Array.isArray(j.steps)) throw new Error(`${file}: job ${id} needs runs-on and steps`);
    const steps = j.steps.map((s, i): Step => {
      if (!isRecord(s) || (typeof s.run === 'string') === (typeof s.uses === 'string')) throw new Error(`${file}: step ${i + 1} of ${id} needs exactly one of run and uses`);
      const step: Step = {};
      if (typeof s.id === 'string') step.id = s.id;
      if (typeof s.name === 'string') step.name = s.name;
      if (typeof s.uses === 'string') step.uses = s.uses;
      if (typeof s.run === 'string') step.run = s.run;
      const env = stringMap(s.env, `${id}.steps[${i}].env`);
      if (env) step.env = env;
      if (isRecord(s.with)) step.with = s.with;
      return step;
    });
    const env = stringMap(j.env, `jobs.${id}.env`);
    jobs[id] = { 'runs-on': j['runs-on'], steps, ...(env ? { env } : {}) };
  }
  const env = stringMap(doc.env, 'env');
  return { name: doc.name, on: doc.on, jobs, ...(env ? { env } : {}) };
}

/**
 * Replaces each `${{ context.NAME }}` (contexts secrets, vars, github, env), as GitHub does: a missing value is the
 * empty string. Any other expression is refused, so the rehearsal never silently differs from GitHub.
 */
export function evaluate(template: string, ctx: Contexts & { env: Record<string, string> }): string {
  return template.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => {
    const m = /^(secrets|vars|github|env)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (!m) throw new Error(`unsupported expression \${{ ${expr} }}`);
    return ctx[m[1] as keyof Contexts | 'env'][m[2]!] ?? '';
  });
}
