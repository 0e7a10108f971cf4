// `cynchro deploy <name> --compose FILE`: the services of a Compose file, through the SDK's deployInputFromCompose.
// A file Cynchro cannot run is a usage error (exit 2, nothing sent to the server), every problem on its own line of
// stderr as FILE:LINE: KEY: MESSAGE, the way compilers report, so editors can jump to each.
import fs from 'node:fs';
import { ComposeError, deployInputFromCompose, type DeployInput } from '@cynchro/sdk';
import { UsageError } from './usage-error.js';

/** Deploy flags that a Compose file says per service: they do not go with --compose. */
const PER_SERVICE = ['image', 'port', 'domain', 'cpu', 'memory', 'replicas', 'dockerfile', 'context'] as const;

/**
 * The DeployInput of `--compose FILE` (without the flags that apply to every service, which the deploy command adds).
 * ${VAR} in the file is interpolated from `env` (the CLI's environment), as `docker compose` does; .env files are not
 * read.
 */
export function composeDeployInput(name: string, file: string, flags: Partial<Record<(typeof PER_SERVICE)[number] | 'repo', string>>, env: Record<string, string | undefined>): DeployInput {
  for (const k of PER_SERVICE) {
    if (flags[k] !== undefined) throw new UsageError(`--${k} does not go with --compose: set it per service in ${file}`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return { name, ...deployInputFromCompose(text, { ...(flags.repo ? { repo: flags.repo } : {}), variables: env }) };
  } catch (e) {
    if (!(e instanceof ComposeError)) throw e;
    const n = e.problems.length;
    const lines = e.problems.map((p) => `${file}:${p.line}: ${p.key ? `${p.key}: ` : ''}${p.message}`);
    throw new UsageError(`${file} cannot be deployed (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`);
  }
}
