// Deploy straight from a git repository (built with its Dockerfile), then print what GitHub needs for
// push-to-deploy: the webhook URL, its secret, content type and events.
//
//   CYNCHRO_URL=http://localhost:3000 CYNCHRO_EMAIL=ada@example.com CYNCHRO_PASSWORD='correct horse battery' \
//   REPO=https://github.com/acme/api BRANCH=main PORT=8080 pnpm --filter @cynchro/example-deploy-repo start
//
// Private repository? Add REPO_TOKEN (a GitHub personal access token; stored encrypted).
// The webhook secret is encrypted under the master key: the vault must be unsealed (see the README).
import { pathToFileURL } from 'node:url';
import { createClient, CynchroError, type Deployment, type Webhook } from '@cynchro/sdk';

export interface Options {
  url: string;
  email: string;
  password: string;
  repo: string;
  branch?: string;
  port: number;
  repoToken?: string;
  name?: string;
  /** Wait for the build and the rollout; default true. */
  wait?: boolean;
  register?: boolean;
  log?: (line: string) => void;
}

export interface Outcome {
  appId: string;
  deploymentId: string;
  url: string;
  webhook: Webhook;
  deployment?: Deployment;
}

export function webhookText(w: Webhook): string {
  return [
    'GitHub → Settings → Webhooks → Add webhook:',
    `  Payload URL:  ${w.url}`,
    `  Content type: ${w.contentType}`,
    `  Secret:       ${w.secret ?? '(hidden while the vault is sealed)'}`,
    `  Events:       ${w.events.join(', ')}`,
  ].join('\n');
}

export async function run(o: Options): Promise<Outcome> {
  const log = o.log ?? ((s: string) => console.log(s));
  const cynchro = createClient({ url: o.url, credentials: { email: o.email, password: o.password } });
  if (o.register) await cynchro.auth.register({ email: o.email, password: o.password });

  const name = o.name ?? `repo-${Date.now().toString(36)}`;
  const d = await cynchro.deploy({
    name,
    repo: o.repo,
    ...(o.branch ? { branch: o.branch } : {}),
    ...(o.repoToken ? { repoToken: o.repoToken } : {}),
    port: o.port,
  });
  if (!d.webhook) throw new Error('a repo app always has a webhook');
  log(`deploying ${name} from ${o.repo} → ${d.url} (deployment ${d.deploymentId}, ${d.status})`);
  log(webhookText(d.webhook));
  const out: Outcome = { appId: d.appId, deploymentId: d.deploymentId, url: d.url, webhook: d.webhook };
  if (o.wait !== false) {
    out.deployment = await d.wait({ timeoutMs: 15 * 60_000, onLog: (l) => log(`  [${l.stream}] ${l.text}`) });
    log(`succeeded at commit ${out.deployment.commitSha}: ${d.url}`);
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  run({
    url: env.CYNCHRO_URL ?? 'http://localhost:3000',
    email: env.CYNCHRO_EMAIL ?? '',
    password: env.CYNCHRO_PASSWORD ?? '',
    repo: env.REPO ?? '',
    port: Number(env.PORT ?? 8080),
    ...(env.BRANCH ? { branch: env.BRANCH } : {}),
    ...(env.REPO_TOKEN ? { repoToken: env.REPO_TOKEN } : {}),
  }).catch((e: unknown) => {
    const err = CynchroError.from(e);
    console.error(`error: ${err.code}: ${err.message}`);
    process.exit(1);
  });
}
