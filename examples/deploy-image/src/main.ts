// Deploy a prebuilt image, wait for it, open its URL, read its logs, then delete it.
//
//   CYNCHRO_URL=http://localhost:3000 CYNCHRO_EMAIL=ada@example.com CYNCHRO_PASSWORD='correct horse battery' \
//   IMAGE=nginx:alpine PORT=80 pnpm --filter @cynchro/example-deploy-image start
//
// With the embedded ingress, set CYNCHRO_INGRESS=http://127.0.0.1:8080 to reach the app through it by Host header
// (useful when <name>.<ROOT_DOMAIN> does not resolve to this machine).
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { createClient, CynchroError } from '@cynchro/sdk';

export interface Options {
  url: string;
  email: string;
  password: string;
  image: string;
  port: number;
  name?: string;
  /** Base URL of the ingress to send the request to (with the app's Host header); default: the app URL itself. */
  ingress?: string;
  /** Register the account first (a fresh server); default: log in. */
  register?: boolean;
  log?: (line: string) => void;
}

export interface Outcome {
  appId: string;
  url: string;
  status: number;
  body: string;
  logs: string[];
}

/** GET the app: straight to its URL, or through the ingress with its domain as Host. */
export function fetchApp(appUrl: string, ingress?: string): Promise<{ status: number; body: string }> {
  const target = new URL(ingress ?? appUrl);
  const host = new URL(appUrl).host;
  return new Promise((resolve, reject) => {
    const req = http.get({ hostname: target.hostname, port: target.port || 80, path: '/', headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
  });
}

export async function run(o: Options): Promise<Outcome> {
  const log = o.log ?? ((s: string) => console.log(s));
  const cynchro = createClient({ url: o.url, credentials: { email: o.email, password: o.password } });
  if (o.register) await cynchro.auth.register({ email: o.email, password: o.password });

  const name = o.name ?? `hello-${Date.now().toString(36)}`;
  const deployment = await cynchro.deploy({ name, image: o.image, port: o.port });
  log(`deploying ${name} (${deployment.deploymentId}) → ${deployment.url}`);
  try {
    await deployment.wait({ timeoutMs: 120_000, onLog: (l) => log(`  ${l.text}`) });
    log('succeeded');

    const page = await fetchApp(deployment.url, o.ingress);
    log(`GET ${deployment.url} → ${page.status}: ${page.body.trim().slice(0, 80)}`);

    // A snapshot of the last lines, then a few live ones (break closes the WebSocket).
    const logs = (await cynchro.apps.logs(deployment.appId, { tail: 20 })).lines.map((l) => l.text);
    for (const line of logs) log(`  log: ${line}`);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 3_000);
    for await (const line of cynchro.apps.logs.stream(deployment.appId, { signal: ac.signal })) {
      log(`  live: ${line.text}`);
      logs.push(line.text);
      break;
    }
    clearTimeout(timer);
    return { appId: deployment.appId, url: deployment.url, status: page.status, body: page.body, logs };
  } finally {
    await cynchro.apps.delete(deployment.appId);
    log(`deleted ${name}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  run({
    url: env.CYNCHRO_URL ?? 'http://localhost:3000',
    email: env.CYNCHRO_EMAIL ?? '',
    password: env.CYNCHRO_PASSWORD ?? '',
    image: env.IMAGE ?? 'nginx:alpine',
    port: Number(env.PORT ?? 80),
    ...(env.CYNCHRO_INGRESS ? { ingress: env.CYNCHRO_INGRESS } : {}),
  }).catch((e: unknown) => {
    const err = CynchroError.from(e);
    console.error(`error: ${err.code}: ${err.message}`);
    process.exit(1);
  });
}
