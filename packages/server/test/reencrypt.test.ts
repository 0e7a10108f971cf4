// Data-key rotation (POST /admin/rotate-data-key) and the background re-encryption job: every kind of stored
// ciphertext (secret values, inline env of apps and services, repo tokens, webhook secrets, deployment snapshots)
// moves to the new term, the old term is retired, values still decrypt, concurrent writes win, sealed stops it.
// Also: old webhook deliveries are pruned.
import { createFakeDockerDriver, LABELS, type FakeDockerDriver } from '@cynchro/docker-driver';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppSpec } from '../src/modules/apps/app-spec.js';
import { ReencryptJob, type RowTarget } from '../src/modules/vault/reencrypt-job.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { FINAL, until } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const { call, register, operator, unseal } = client(() => h);
let admin: TestUser;
let alice: TestUser;
let masterKey: string;
let n = 0;
const name = (p: string) => `${p}-${++n}-${process.pid % 1000}`;

beforeEach(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness({ ...ADMIN_ENV, QUOTA_MAX_APPS: '100', ROOT_DOMAIN: 'apps.test' }, { docker });
  admin = await operator();
  alice = await register();
  masterKey = newMasterKey();
  expect((await unseal(admin, masterKey)).status).toBe(200);
});
afterEach(async () => {
  await h.close();
});

const settle = (appId: string, deploymentId: string) =>
  until(`deployment ${deploymentId} to settle`, async () => {
    const d = await h.deps.db.selectFrom('deployments').select('status').where('id', '=', deploymentId).where('app_id', '=', appId).executeTakeFirst();
    return d && FINAL.includes(d.status) ? d.status : undefined;
  });

async function containerEnv(appId: string, service = 'app') {
  const cs = await docker.listContainers({ [LABELS.app]: appId, [LABELS.service]: service });
  expect(cs).toHaveLength(1);
  return (await docker.containerSpec(cs[0]!.id))!.env;
}

/** Every ciphertext stored in the database, by where it lives. */
async function storedCiphertexts(): Promise<{ where: string; ct: string }[]> {
  const out: { where: string; ct: string }[] = [];
  const fromSpec = (where: string, text: string) => {
    const spec = JSON.parse(text) as AppSpec;
    for (const [k, ct] of Object.entries(spec.env)) out.push({ where: `${where} env ${k}`, ct });
    for (const s of spec.services) for (const [k, ct] of Object.entries(s.env)) out.push({ where: `${where} ${s.name} env ${k}`, ct });
    if (spec.repo?.token) out.push({ where: `${where} repo token`, ct: spec.repo.token });
  };
  for (const s of await h.deps.db.selectFrom('secrets').selectAll().execute()) {
    for (const [k, ct] of Object.entries(JSON.parse(s.data) as Record<string, string>)) out.push({ where: `secret ${s.name} ${k}`, ct });
  }
  for (const a of await h.deps.db.selectFrom('apps').selectAll().execute()) {
    fromSpec(`app ${a.name}`, a.spec);
    if (a.webhook_secret) out.push({ where: `app ${a.name} webhook secret`, ct: a.webhook_secret });
  }
  for (const d of await h.deps.db.selectFrom('deployments').selectAll().execute()) fromSpec(`deployment ${d.id}`, d.spec);
  return out;
}

/** Which terms the stored ciphertexts are under, and (as a cross-check) every `v1.<term>.` in those tables' text. */
async function termsInUse(): Promise<Set<number>> {
  const terms = new Set((await storedCiphertexts()).map(({ ct }) => Number(/^v1\.(\d+)\./.exec(ct)![1])));
  const texts = [
    ...(await h.deps.db.selectFrom('secrets').select('data').execute()).map((r) => r.data),
    ...(await h.deps.db.selectFrom('apps').select(['spec', 'webhook_secret']).execute()).flatMap((r) => [r.spec, r.webhook_secret ?? '']),
    ...(await h.deps.db.selectFrom('deployments').select('spec').execute()).map((r) => r.spec),
  ];
  for (const t of texts) for (const m of t.matchAll(/\bv1\.(\d+)\.[A-Za-z0-9_-]{20,}/g)) terms.add(Number(m[1]));
  return terms;
}

const vaultTerms = () => {
  const s = h.deps.vault.status();
  return s.sealed ? null : s.terms.map((t) => t.term);
};

interface Fixture {
  repoApp: { appId: string; webhookSecret: string };
  svcApp: { appId: string };
}

/** Secrets (org-wide and app-scoped), a repo app with env, envFrom and a token, a services app with service env. */
async function seed(): Promise<Fixture> {
  const put = (body: object) => call('POST', '/secrets', { token: alice.accessToken, body });
  expect((await put({ name: 'db', data: { DB_URL: 'postgres://org', DB_PASSWORD: 'hunter2' } })).status).toBe(200);
  const repo = await call('POST', '/deploy', {
    token: alice.accessToken,
    body: { name: name('repo'), repo: 'https://github.com/acme/api', branch: 'main', repoToken: 'ghp_secret-token', port: 8080, env: { GREETING: 'hello' }, envFrom: ['db'] },
  });
  expect(repo.status, JSON.stringify(repo.body)).toBe(202);
  expect(await settle(repo.body.appId, repo.body.deploymentId)).toBe('succeeded');
  expect((await put({ name: 'api', appId: repo.body.appId, data: { API_KEY: 'scoped-key' } })).status).toBe(200);

  const svc = await call('POST', '/deploy', {
    token: alice.accessToken,
    body: { name: name('svc'), env: { SHARED: 'app-wide' }, services: [{ name: 'web', image: 'acme/web:1', port: 8080, env: { ROLE: 'frontend' } }] },
  });
  expect(svc.status, JSON.stringify(svc.body)).toBe(202);
  expect(await settle(svc.body.appId, svc.body.deploymentId)).toBe('succeeded');
  return { repoApp: { appId: repo.body.appId, webhookSecret: repo.body.webhook.secret }, svcApp: { appId: svc.body.appId } };
}

/** Redeploys from the stored spec (no new input), so the worker decrypts the stored, re-encrypted values. */
async function redeployStored(appId: string) {
  const q = await h.services.deploy.queueDeployment({ id: appId }, { trigger: 'api' });
  expect(await settle(appId, q.deploymentId)).toBe('succeeded');
}

async function auditRows(action: string) {
  return h.deps.db.selectFrom('audit_log').select(['user_id', 'outcome', 'detail']).where('action', '=', action).orderBy('id').execute();
}

describe('POST /admin/rotate-data-key and the re-encryption job', () => {
  it('covers every kind of stored ciphertext: new writes use the new term, the job moves the rest and retires the old term', async () => {
    const fx = await seed();
    const before = await storedCiphertexts();
    // 2 secret values + 1 scoped; repo app: env + token + webhook secret, its deployment's env + token; svc app:
    // app env + service env, its deployment's two.
    expect(before.length).toBeGreaterThanOrEqual(11);
    expect(await termsInUse()).toEqual(new Set([1]));

    const r = await call('POST', '/admin/rotate-data-key', { token: admin.accessToken });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.activeTerm).toBe(2);
    expect(r.body.terms).toEqual([
      { term: 1, createdAt: expect.any(String), encryptions: expect.any(Number), active: false },
      { term: 2, createdAt: expect.any(String), encryptions: expect.any(Number), active: true },
    ]);
    expect(r.body.terms[0].encryptions).toBeGreaterThan(0);
    expect(JSON.stringify(r.body)).not.toMatch(/key"?\s*:/i);

    // A new write uses the new term at once.
    expect((await call('POST', '/secrets', { token: alice.accessToken, body: { name: 'later', data: { X: 'y' } } })).status).toBe(200);
    const later = await h.deps.db.selectFrom('secrets').select('data').where('name', '=', 'later').executeTakeFirstOrThrow();
    expect(JSON.parse(later.data).X).toMatch(/^v1\.2\./);

    // The route kicked the job in the background; wait for it.
    await h.services.reencrypt.idle();
    const after = await storedCiphertexts();
    expect(after.length).toBe(before.length + 1);
    for (const { where, ct } of after) expect(ct, where).toMatch(/^v1\.2\./);
    expect(await termsInUse()).toEqual(new Set([2]));
    expect(vaultTerms()).toEqual([2]);

    // Audited: the rotation with its caller, the retirement by the system.
    expect(await auditRows('vault.rotate_data_key')).toEqual([{ user_id: admin.userId, outcome: 'ok', detail: 'term 2' }]);
    expect(await auditRows('vault.retire_term')).toEqual([{ user_id: null, outcome: 'ok', detail: 'term 1' }]);

    // Everything still decrypts: secrets, the webhook secret, and a redeploy from the stored spec (env, envFrom,
    // app-scoped secret shadowing nothing here, the repo token handed to the build).
    expect(await h.services.secrets.resolveForApp(alice.orgId, fx.repoApp.appId, ['db', 'api'])).toEqual({
      db: { DB_URL: 'postgres://org', DB_PASSWORD: 'hunter2' },
      api: { API_KEY: 'scoped-key' },
    });
    const app = await call('GET', `/apps/${fx.repoApp.appId}`, { token: alice.accessToken });
    expect(app.body.webhook.secret).toBe(fx.repoApp.webhookSecret);

    await redeployStored(fx.repoApp.appId);
    expect(docker.lastGitBuild()?.token).toBe('ghp_secret-token');
    expect(await containerEnv(fx.repoApp.appId)).toEqual({ GREETING: 'hello', DB_URL: 'postgres://org', DB_PASSWORD: 'hunter2' });
    await redeployStored(fx.svcApp.appId);
    expect(await containerEnv(fx.svcApp.appId, 'web')).toEqual({ SHARED: 'app-wide', ROLE: 'frontend' });

    // A second rotation works the same way (term 3; term 2 retired).
    expect((await call('POST', '/admin/rotate-data-key', { token: admin.accessToken })).body.activeTerm).toBe(3);
    await h.services.reencrypt.idle();
    expect(await termsInUse()).toEqual(new Set([3]));
    expect(vaultTerms()).toEqual([3]);
  });

  it('keeps deployment snapshots byte-identical to the app spec they were taken from', async () => {
    const fx = await seed();
    const same = async () => {
      const app = await h.deps.db.selectFrom('apps').select(['spec', 'current_deployment_id']).where('id', '=', fx.repoApp.appId).executeTakeFirstOrThrow();
      const dep = await h.deps.db.selectFrom('deployments').select('spec').where('id', '=', app.current_deployment_id!).executeTakeFirstOrThrow();
      return dep.spec === app.spec;
    };
    expect(await same()).toBe(true);
    await call('POST', '/admin/rotate-data-key', { token: admin.accessToken });
    await h.services.reencrypt.idle();
    expect(await same()).toBe(true);
  });

  it('never overwrites a row written concurrently: the conditional update loses, the next pass checks it again', async () => {
    const fx = await seed();
    await h.deps.vault.rotateDataKey(); // directly, so the server's own job is not kicked
    const interfered: RowTarget[] = [];
    const job = new ReencryptJob(h.deps, {
      batchSize: 2,
      async beforeWrite(target) {
        if (interfered.some((t) => t.table === target.table)) return;
        if (target.table === 'secrets') {
          // Replace the very row being rewritten, through the API, between the job's read and its write.
          const row = await h.deps.db.selectFrom('secrets').select(['name', 'app_id']).where('id', '=', target.id).executeTakeFirstOrThrow();
          const body = { name: row.name, data: { FRESH: `written-during-${row.name}` }, ...(row.app_id ? { appId: row.app_id } : {}) };
          expect((await call('POST', '/secrets', { token: alice.accessToken, body })).status).toBe(200);
          interfered.push(target);
        } else if (target.table === 'apps' && target.column === 'webhook_secret') {
          expect((await call('POST', `/apps/${target.id}/webhook/rotate`, { token: alice.accessToken })).status).toBe(200);
          interfered.push(target);
        }
      },
    });
    expect(job.kick('test')).toBe(true);
    const report = await job.idle();
    expect(report).toMatchObject({ outcome: 'done', retiredTerms: [1] });
    expect(report!.conflicts).toBeGreaterThanOrEqual(2);
    expect(interfered.map((t) => t.table).sort()).toEqual(['apps', 'secrets']);

    // The concurrent writes survived.
    const secret = await h.deps.db.selectFrom('secrets').select(['name', 'app_id']).where('id', '=', interfered.find((t) => t.table === 'secrets')!.id).executeTakeFirstOrThrow();
    const resolved = await h.services.secrets.resolveForApp(alice.orgId, secret.app_id ?? fx.repoApp.appId, [secret.name]);
    expect(resolved[secret.name]).toEqual({ FRESH: `written-during-${secret.name}` });
    const app = await call('GET', `/apps/${fx.repoApp.appId}`, { token: alice.accessToken });
    expect(app.body.webhook.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(app.body.webhook.secret).not.toBe(fx.repoApp.webhookSecret);
    expect(await termsInUse()).toEqual(new Set([2]));
    expect(vaultTerms()).toEqual([2]);
  });

  it('runs at most once at a time; a kick during a run queues one more run after it', async () => {
    await seed();
    await h.deps.vault.rotateDataKey();
    const kicks: boolean[] = [];
    const job: ReencryptJob = new ReencryptJob(h.deps, {
      beforeWrite() {
        kicks.push(job.kick('during'));
      },
    });
    expect(job.kick('first')).toBe(true);
    expect(job.isRunning).toBe(true);
    await job.idle();
    expect(kicks.length).toBeGreaterThan(0);
    expect(kicks.every((k) => !k)).toBe(true);
    expect(job.lastReport).toMatchObject({ outcome: 'nothing_to_do' }); // the queued run, after term 1 was retired
    expect(vaultTerms()).toEqual([2]);
  });

  it('with a single term there is nothing to do', async () => {
    await seed();
    const job = new ReencryptJob(h.deps);
    expect(job.kick('test')).toBe(true);
    expect(await job.idle()).toMatchObject({ outcome: 'nothing_to_do', passes: 0 });
    expect(vaultTerms()).toEqual([1]);
  });
});

describe('sealed', () => {
  it('the routes answer 503 sealed and the job does nothing', async () => {
    await seed();
    await h.deps.vault.rotateDataKey();
    expect((await call('POST', '/admin/seal', { token: admin.accessToken })).status).toBe(200);
    const before = await storedCiphertexts();

    for (const url of ['/admin/rotate-data-key', '/admin/reencrypt']) {
      const r = await call('POST', url, { token: admin.accessToken });
      expect(r.status, url).toBe(503);
      expect(r.body.error).toBe('sealed');
    }
    expect(await auditRows('vault.rotate_data_key')).toEqual([{ user_id: admin.userId, outcome: 'failed', detail: 'sealed' }]);
    expect(h.services.reencrypt.kick('test')).toBe(false);
    expect(h.services.reencrypt.isRunning).toBe(false);
    expect(await storedCiphertexts()).toEqual(before);
  });

  it('a seal mid-way stops the run cleanly (nothing retired); the next unseal finishes the job', async () => {
    const fx = await seed();
    await h.deps.vault.rotateDataKey();
    let writes = 0;
    const job = new ReencryptJob(h.deps, {
      batchSize: 1,
      async beforeWrite() {
        if (++writes === 2) await h.deps.vault.seal();
      },
    });
    expect(job.kick('test')).toBe(true);
    expect(await job.idle()).toMatchObject({ outcome: 'sealed', retiredTerms: [] });
    expect(h.deps.vault.sealed).toBe(true);
    expect(job.kick('while sealed')).toBe(false);
    const terms = await termsInUse();
    expect(terms).toEqual(new Set([1, 2])); // part-way: some rows moved, the rest not

    // Unsealing kicks the server's job, which completes the move and retires term 1.
    expect((await unseal(admin, masterKey)).body).toEqual({ sealed: false, outcome: 'unsealed' });
    await h.services.reencrypt.idle();
    expect(await termsInUse()).toEqual(new Set([2]));
    expect(vaultTerms()).toEqual([2]);
    await redeployStored(fx.repoApp.appId);
    expect(await containerEnv(fx.repoApp.appId)).toEqual({ GREETING: 'hello', DB_URL: 'postgres://org', DB_PASSWORD: 'hunter2' });
  });
});

describe('the admin gate', () => {
  it('answers 401 without a token and 403 to a non-operator, and changes nothing', async () => {
    const user = await register();
    for (const url of ['/admin/rotate-data-key', '/admin/reencrypt']) {
      expect((await call('POST', url)).status, url).toBe(401);
      const r = await call('POST', url, { token: user.accessToken });
      expect(r.status, url).toBe(403);
      expect(r.body.error).toBe('forbidden');
    }
    expect(vaultTerms()).toEqual([1]);
    expect(await auditRows('vault.rotate_data_key')).toEqual([{ user_id: user.userId, outcome: 'denied', detail: 'forbidden' }]);
  });

  it('POST /admin/reencrypt starts a run (or reports one in progress)', async () => {
    await seed();
    await h.deps.vault.rotateDataKey();
    const r = await call('POST', '/admin/reencrypt', { token: admin.accessToken });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ started: true });
    await h.services.reencrypt.idle();
    expect(vaultTerms()).toEqual([2]);
    expect(await termsInUse()).toEqual(new Set([2]));
  });
});

describe('webhook deliveries', () => {
  it('rows older than 30 days are pruned, newer ones kept', async () => {
    const fx = await seed();
    const dep = await h.deps.db.selectFrom('deployments').select('id').where('app_id', '=', fx.repoApp.appId).executeTakeFirstOrThrow();
    const day = 24 * 60 * 60 * 1000;
    const at = (daysAgo: number) => new Date(h.clock.now().getTime() - daysAgo * day).toISOString();
    await h.deps.db
      .insertInto('webhook_deliveries')
      .values([
        { app_id: fx.repoApp.appId, delivery_id: 'old', event: 'push', deployment_id: dep.id, created_at: at(31) },
        { app_id: fx.repoApp.appId, delivery_id: 'recent', event: 'push', deployment_id: dep.id, created_at: at(29) },
      ])
      .execute();
    expect(await h.services.maintenance.pruneWebhookDeliveries()).toBe(1);
    const left = await h.deps.db.selectFrom('webhook_deliveries').select('delivery_id').execute();
    expect(left).toEqual([{ delivery_id: 'recent' }]);
  });

  it('are pruned when the server starts', async () => {
    const fx = await seed();
    const dep = await h.deps.db.selectFrom('deployments').select('id').where('app_id', '=', fx.repoApp.appId).executeTakeFirstOrThrow();
    await h.deps.db
      .insertInto('webhook_deliveries')
      .values({ app_id: fx.repoApp.appId, delivery_id: 'ancient', event: 'push', deployment_id: dep.id, created_at: '2000-01-01T00:00:00.000Z' })
      .execute();
    const dataDir = h.dataDir;
    await h.close();
    h = await startHarness({ ...ADMIN_ENV, QUOTA_MAX_APPS: '100', ROOT_DOMAIN: 'apps.test' }, { docker, dataDir });
    await until('old deliveries to be pruned', async () => (await h.deps.db.selectFrom('webhook_deliveries').select('delivery_id').execute()).length === 0);
  });
});
