// A client generated from the server's own OpenAPI document, no SDK involved:
//
//   pnpm --filter @cynchro/example-openapi-client generate     # openapi-typescript → src/generated/api.d.ts
//   CYNCHRO_URL=http://localhost:3000 CYNCHRO_EMAIL=… CYNCHRO_PASSWORD=… pnpm --filter @cynchro/example-openapi-client start
//
// Every path, body and answer below is type-checked against the generated `paths`.
import { pathToFileURL } from 'node:url';
import createClient from 'openapi-fetch';
import type { paths } from './generated/api.js';

export interface Options {
  url: string;
  email: string;
  password: string;
  register?: boolean;
  /** An operator (ADMIN_EMAILS) may unseal the vault with the master key first: secrets need it. */
  masterKey?: string;
  log?: (line: string) => void;
}

export interface Outcome {
  userEmail: string;
  apps: string[];
  secretKeys: string[];
  secretNames: string[];
}

/** Error bodies are `{ error, message, details? }`: turn them into one readable Error. */
function fail(what: string, error: { error?: string; message?: string } | undefined, status: number): never {
  throw new Error(`${what}: ${status} ${error?.error ?? 'error'}: ${error?.message ?? ''}`);
}

export async function run(o: Options): Promise<Outcome> {
  const log = o.log ?? ((s: string) => console.log(s));
  const api = createClient<paths>({ baseUrl: o.url });

  if (o.register) {
    const r = await api.POST('/auth/register', { body: { email: o.email, password: o.password } });
    if (!r.data) fail('register', r.error, r.response.status);
  }
  const login = await api.POST('/auth/login', { body: { email: o.email, password: o.password } });
  if (!login.data) fail('login', login.error, login.response.status);
  const { accessToken, user } = login.data;
  log(`logged in as ${user.email}`);
  // Every later request carries the bearer token.
  api.use({ onRequest: ({ request }) => (request.headers.set('authorization', `Bearer ${accessToken}`), request) });

  if (o.masterKey) {
    const u = await api.POST('/admin/unseal', { body: { key: o.masterKey } });
    if (!u.data) fail('unseal', u.error, u.response.status);
    log(`vault: ${u.data.outcome}`);
  }

  const apps = await api.GET('/apps');
  if (!apps.data) fail('list apps', apps.error, apps.response.status);
  log(`apps: ${apps.data.apps.map((a) => `${a.name} (${a.status})`).join(', ') || 'none'}`);

  const put = await api.POST('/secrets', { body: { name: 'example-db', data: { DATABASE_URL: 'postgres://db/app', PASSWORD: 's3cret' } } });
  if (!put.data) fail('put secret', put.error, put.response.status);
  const got = await api.GET('/secrets/{name}', { params: { path: { name: 'example-db' } } });
  if (!got.data) fail('get secret', got.error, got.response.status);
  log(`secret ${got.data.name} (${got.data.scope}) has keys: ${got.data.keys.join(', ')}`);

  const all = await api.GET('/secrets');
  if (!all.data) fail('list secrets', all.error, all.response.status);

  return { userEmail: user.email, apps: apps.data.apps.map((a) => a.name), secretKeys: got.data.keys, secretNames: all.data.secrets.map((s) => s.name) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  run({
    url: env.CYNCHRO_URL ?? 'http://localhost:3000',
    email: env.CYNCHRO_EMAIL ?? '',
    password: env.CYNCHRO_PASSWORD ?? '',
    ...(env.CYNCHRO_MASTER_KEY ? { masterKey: env.CYNCHRO_MASTER_KEY } : {}),
  }).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
