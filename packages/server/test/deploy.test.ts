// /deploy, the worker and the apps routes against the in-memory engine (fast); test/deploy.docker.test.ts runs the
// same flows against the real engine.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFakeDockerDriver, LABELS, type FakeDockerDriver } from '@cynchro/docker-driver';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle as settleVia } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const { call, register, operator, unseal } = client(() => h);
let alice: TestUser;
let bob: TestUser;
let n = 0;
const masterKey = newMasterKey();
const name = (p = 'app') => `${p}-${++n}-${process.pid % 1000}`;

/**
 * Holds each deploy at the door of its queueing transaction until `n` have arrived (or 5 s passed), so any check
 * made before that door sees the same state for all of them: only a check inside the transaction can tell them apart.
 */
function holdAtQueueDoor(harness: Harness, n: number): () => void {
  const svc = harness.services.deployments;
  const enqueue = svc.enqueue.bind(svc);
  let arrived = 0;
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const timer = setTimeout(() => open(), 5_000);
  const spy = vi.spyOn(svc, 'enqueue').mockImplementation((async (work: never) => {
    if (++arrived >= n) open();
    await gate;
    return enqueue(work);
  }) as never);
  return () => {
    clearTimeout(timer);
    spy.mockRestore();
  };
}

const waitFor = (appId: string, deploymentId: string, token: string, want?: string[]) => settleVia(call, appId, deploymentId, token, want ? { want } : {});
beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness({ ...ADMIN_ENV, QUOTA_MAX_APPS: '100', ROOT_DOMAIN: 'apps.test' }, { docker });
  alice = await register();
  bob = await register();
  const op = await operator();
  await unseal(op, masterKey);
});
afterAll(async () => {
  await h.close();
});

describe('POST /deploy validation', () => {
  const bad: [string, Record<string, unknown>, string][] = [
    ['name not DNS-safe', { name: 'My_App', image: 'a:1' }, 'name'],
    ['no source', { name: 'x1' }, 'image'],
    ['two sources', { name: 'x2', image: 'a:1', repo: 'https://github.com/a/b' }, 'repo'],
    ['port out of range', { name: 'x3', image: 'a:1', port: 70000 }, 'port'],
    ['memory too small', { name: 'x4', image: 'a:1', memory: 32 }, 'memory'],
    ['cpu above 8', { name: 'x5', image: 'a:1', cpu: 9 }, 'cpu'],
    ['dockerfile with ..', { name: 'x6', repo: 'https://github.com/a/b', dockerfile: '../Dockerfile' }, 'dockerfile'],
    ['absolute dockerfile', { name: 'x7', repo: 'https://github.com/a/b', dockerfile: '/etc/passwd' }, 'dockerfile'],
    ['invalid domain', { name: 'x8', image: 'a:1', domain: 'not a host' }, 'domain'],
    ['env key', { name: 'x9', image: 'a:1', env: { 'BAD-KEY': 'v' } }, 'env'],
    ['image starting with -', { name: 'x10', image: '--privileged' }, 'image'],
    ['repo not a URL', { name: 'x11', repo: 'ext::sh -c id' }, 'repo'],
    ['branch option injection', { name: 'x12', repo: 'https://github.com/a/b', branch: '--upload-pack=x' }, 'branch'],
    ['plain http to a host not in GIT_ALLOW_HOSTS', { name: 'x13', repo: 'http://git.example.com/a/b' }, 'repo'],
    ['credentials in the repo URL', { name: 'x14', repo: 'https://user:ghp_secret@github.com/a/b' }, 'repo'],
  ];
  for (const [what, body, field] of bad) {
    it(`refuses ${what} with validation on ${field}`, async () => {
      const r = await call('POST', '/deploy', { token: alice.accessToken, body });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('validation');
      expect(r.body.details.fieldErrors[field]).toBeDefined();
      expect((await call('GET', '/apps', { token: alice.accessToken })).body.apps.some((a: { name: string }) => a.name === body.name)).toBe(false);
    });
  }

  it('treats blank optional text as not provided', async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name(), image: 'busybox:1', domain: '', branch: '', dockerfile: '', repoToken: '' } });
    expect(r.status).toBe(202);
  });

  it('requires a bearer token', async () => {
    const r = await call('POST', '/deploy', { body: { name: 'x', image: 'a:1' } });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('missing_bearer_token');
  });

  it('answers unknown_secret for envFrom/secretFiles the app cannot see', async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name(), image: 'a:1', envFrom: ['nope'] } });
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('unknown_secret');
  });
});

describe('deploy an image', () => {
  it('answers 202 queued with the URL, then succeeds, routes the domain and runs the container with its env', async () => {
    const app = name('web');
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'acme/web:1', port: 8080, env: { GREETING: 'hello' }, cpu: 0.5, memory: 128 } });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ appId: expect.stringMatching(/^app_/), deploymentId: expect.stringMatching(/^dep_/), domain: `${app}.apps.test`, status: 'queued', url: `http://${app}.apps.test:${h.config.ingressPort}` });
    expect(r.body.webhook).toBeUndefined();
    const { app: dto, deployment } = await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    expect(deployment.status).toBe('succeeded');
    expect(dto.status).toBe('running');
    expect(dto.envKeys).toEqual(['GREETING']);
    const [c] = await docker.listContainers({ [LABELS.app]: r.body.appId });
    expect(c).toBeDefined();
    expect(c!.labels).toMatchObject({ [LABELS.managed]: 'true', [LABELS.org]: alice.orgId, [LABELS.deployment]: r.body.deploymentId, [LABELS.service]: 'app' });
    const spec = await docker.containerSpec(c!.id);
    expect(spec).toMatchObject({ env: { GREETING: 'hello' }, cpu: 0.5, memoryMb: 128, port: 8080 });
    expect(h.deps.ingress.routes().find((x) => x.domain === `${app}.apps.test`)?.targets).toEqual([{ host: '127.0.0.1', port: c!.hostPort }]);
    // the env value is stored only encrypted
    const row = await h.deps.db.selectFrom('apps').select('spec').where('id', '=', r.body.appId).executeTakeFirstOrThrow();
    expect(row.spec).not.toContain('hello');
  });

  it('is idempotent on name: a second deploy updates the app, keeps its env and replaces the container', async () => {
    const app = name('idem');
    const first = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'acme/web:1', env: { KEEP: 'me' } } });
    await waitFor(first.body.appId, first.body.deploymentId, alice.accessToken);
    const second = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'acme/web:2', env: { KEEP: 'me', NEW: 'x' } } });
    expect(second.body.appId).toBe(first.body.appId);
    const { body } = await waitFor(second.body.appId, second.body.deploymentId, alice.accessToken);
    expect(body.deployments.map((d: { id: string }) => d.id)).toEqual([second.body.deploymentId, first.body.deploymentId]);
    const cs = await docker.listContainers({ [LABELS.app]: first.body.appId }, { all: true });
    expect(cs).toHaveLength(1);
    expect(cs[0]!.image).toBe('acme/web:2');
    expect((await docker.containerSpec(cs[0]!.id))!.env).toEqual({ KEEP: 'me', NEW: 'x' });
  });

  it('injects envFrom secrets and mounts secretFiles; app-scoped secrets shadow org-wide ones', async () => {
    await call('POST', '/secrets', { token: alice.accessToken, body: { name: 'db', data: { DB_URL: 'postgres://org' } } });
    await call('POST', '/secrets', { token: alice.accessToken, body: { name: 'tls', data: { KEY: 'pem-bytes' } } });
    const app = name('sec');
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'acme/web:1', envFrom: ['db'], secretFiles: ['tls'], env: { DB_URL: 'inline-wins' } } });
    await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    let [c] = await docker.listContainers({ [LABELS.app]: r.body.appId });
    expect((await docker.containerSpec(c!.id))!.env).toEqual({ DB_URL: 'inline-wins' });
    expect(docker.secretFilesOf(c!.id)).toEqual({ KEY: 'pem-bytes' });
    // an app-scoped secret of the same name shadows the org-wide one on the next deploy
    const scoped = await call('POST', '/secrets', { token: alice.accessToken, body: { name: 'tls', appId: r.body.appId, data: { KEY: 'app-pem' } } });
    expect(scoped.status).toBe(200);
    const again = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'acme/web:1', envFrom: ['db'], secretFiles: ['tls'] } });
    await waitFor(again.body.appId, again.body.deploymentId, alice.accessToken);
    [c] = await docker.listContainers({ [LABELS.app]: r.body.appId });
    expect(docker.secretFilesOf(c!.id)).toEqual({ KEY: 'app-pem' });
    expect((await docker.containerSpec(c!.id))!.env).toEqual({ DB_URL: 'postgres://org' });
  });

  it('a failing health check fails the deployment with a reason and leaves the old version serving', async () => {
    const app = name('health');
    const ok = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'acme/web:1' } });
    await waitFor(ok.body.appId, ok.body.deploymentId, alice.accessToken);
    const before = h.deps.ingress.routes().find((x) => x.domain === ok.body.domain);
    docker.failHealth('acme/broken:1');
    const bad = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'acme/broken:1' } });
    const { app: dto, deployment } = await waitFor(bad.body.appId, bad.body.deploymentId, alice.accessToken);
    expect(deployment.status).toBe('failed');
    expect(deployment.error).toMatch(/health/i);
    expect(dto.status).toBe('running');
    expect(dto.currentDeploymentId).toBe(ok.body.deploymentId);
    expect(h.deps.ingress.routes().find((x) => x.domain === ok.body.domain)).toEqual(before);
    const cs = await docker.listContainers({ [LABELS.app]: ok.body.appId }, { all: true });
    expect(cs.map((c) => c.labels[LABELS.deployment])).toEqual([ok.body.deploymentId]);
    const log = await call('GET', `/apps/${ok.body.appId}/deployments/${bad.body.deploymentId}/logs`, { token: alice.accessToken });
    expect(log.body.lines.some((l: { stream: string }) => l.stream === 'error')).toBe(true);
  });

  it('a pull failure fails with the reason', async () => {
    docker.failPull('acme/missing:1', 'manifest unknown');
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name(), image: 'acme/missing:1' } });
    const { deployment, app } = await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    expect(deployment.status).toBe('failed');
    expect(deployment.error).toMatch(/manifest unknown|pull/);
    expect(app.status).toBe('failed');
  });
});

describe('domains', () => {
  it('refuses a domain another org holds, including the default one, with 409 domain_taken', async () => {
    const app = name('dom');
    const a = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'a:1', domain: `www.${app}.com` } });
    expect(a.status).toBe(202);
    const b = await call('POST', '/deploy', { token: bob.accessToken, body: { name: name('other'), image: 'a:1', domain: `WWW.${app}.com` } });
    expect(b.status).toBe(409);
    expect(b.body.error).toBe('domain_taken');
    const c = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('def'), image: 'a:1' } });
    const d = await call('POST', '/deploy', { token: bob.accessToken, body: { name: name('x'), image: 'a:1', domain: c.body.domain } });
    expect(d.body.error).toBe('domain_taken');
  });
});

describe('domains: CONTRACT.md "Domains"', () => {
  // Its own server, so PUBLIC_API_URL can be a name under ROOT_DOMAIN (the platform holds api.apps.test).
  let d: Harness;
  const dc = client(() => d);
  let carol: TestUser;
  let dave: TestUser;
  let m = 0;
  const base = () => `acme-${++m}-${process.pid % 1000}.com`;
  const deploy = (who: TestUser, body: Record<string, unknown>) => dc.call('POST', '/deploy', { token: who.accessToken, body: { image: 'a:1', ...body } });
  const held = async () => (await d.deps.db.selectFrom('domains').select('domain').execute()).map((r) => r.domain);

  beforeAll(async () => {
    d = await startHarness({ QUOTA_MAX_APPS: '100', ROOT_DOMAIN: 'apps.test', PUBLIC_API_URL: 'https://api.apps.test' });
    carol = await dc.register();
    dave = await dc.register();
  });
  afterAll(async () => {
    await d.close();
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['an IP literal', { domain: '127.0.0.1' }, 'domain'],
    ['a short IPv4 form', { domain: '169.254' }, 'domain'],
    ['a name under localhost', { domain: 'admin.localhost' }, 'domain'],
    ['a single label', { domain: 'localhost' }, 'domain'],
    ['two labels deep under ROOT_DOMAIN', { domain: 'login.shop.apps.test' }, 'domain'],
    ['a service domain two labels deep under ROOT_DOMAIN', { image: undefined, services: [{ name: 'web', image: 'a:1', port: 80 }, { name: 'api', image: 'a:1', port: 80, domain: 'x.y.apps.test' }] }, 'services'],
    ['one domain for two services', { image: undefined, services: [{ name: 'web', image: 'a:1', port: 80, domain: 'same.example.com' }, { name: 'api', image: 'a:1', port: 80, domain: 'same.example.com' }] }, 'services'],
  ];
  for (const [what, body, field] of invalid) {
    it(`refuses ${what} with 400 validation on ${field}, storing nothing`, async () => {
      const before = await held();
      const r = await deploy(carol, { name: `inv-${++m}`, ...body });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toBe('validation');
      expect(r.body.details.fieldErrors[field]).toBeDefined();
      expect(await held()).toEqual(before);
    });
  }

  const platform: [string, Record<string, unknown>][] = [
    ['the ROOT_DOMAIN apex', { name: 'apex', domain: 'apps.test' }],
    ['the host of PUBLIC_API_URL', { name: 'api-host', domain: 'api.apps.test' }],
    ['the host of PUBLIC_API_URL as the default domain (an app named api)', { name: 'api' }],
  ];
  for (const [what, body] of platform) {
    it(`refuses ${what} with 409 domain_taken`, async () => {
      const r = await deploy(carol, body);
      expect(r.status, JSON.stringify(r.body)).toBe(409);
      expect(r.body.error).toBe('domain_taken');
    });
  }

  it("refuses a subdomain or a parent of another org's domain; siblings and the same org's nesting are fine", async () => {
    const b = base();
    expect((await deploy(carol, { name: `shop-${m}`, domain: `shop.${b}` })).status).toBe(202);
    for (const domain of [`login.shop.${b}`, `a.b.shop.${b}`, b]) {
      const r = await deploy(dave, { name: `grab-${++m}`, domain });
      expect(r.status, domain).toBe(409);
      expect(r.body.error).toBe('domain_taken');
    }
    // A service's own domain is checked the same way.
    const svc = await deploy(dave, { name: `svc-${++m}`, image: undefined, services: [{ name: 'web', image: 'a:1', port: 80 }, { name: 'admin', image: 'a:1', port: 80, domain: `admin.shop.${b}` }] });
    expect(svc.status).toBe(409);
    expect(svc.body.error).toBe('domain_taken');
    expect((await deploy(dave, { name: `blog-${++m}`, domain: `blog.${b}` })).status).toBe(202);
    expect((await deploy(carol, { name: `login-${++m}`, domain: `login.shop.${b}` })).status).toBe(202);
    expect((await deploy(carol, { name: `apex-${++m}`, domain: `x.${b}` })).status).toBe(202);
    // Now dave holds blog.<b>: the parent is another org's parent for carol too.
    expect((await deploy(carol, { name: `root-${++m}`, domain: b })).body.error).toBe('domain_taken');
    const mine = (await held()).filter((x) => x.endsWith(b)).sort();
    expect(mine).toEqual([`blog.${b}`, `login.shop.${b}`, `shop.${b}`, `x.${b}`].sort());
  });

  it("a login.<another org's default domain> is refused (two labels deep), the default domain itself is domain_taken", async () => {
    const r = await deploy(carol, { name: `def-${++m}` });
    expect(r.status).toBe(202);
    const deeper = await deploy(dave, { name: `deeper-${++m}`, domain: `login.${r.body.domain}` });
    expect(deeper.status).toBe(400);
    const same = await deploy(dave, { name: `same-${++m}`, domain: r.body.domain });
    expect(same.body.error).toBe('domain_taken');
  });

  it('the nesting check is race-free: a parent and a child claimed at once by two orgs, exactly one wins each time', async () => {
    const pairs = Array.from({ length: 8 }, () => base());
    const release = holdAtQueueDoor(d, pairs.length * 2);
    const replies = await Promise.all(
      pairs.flatMap((b, i) => [deploy(carol, { name: `race-c-${i}-${m}`, domain: `www.${b}` }), deploy(dave, { name: `race-d-${i}-${m}`, domain: b })]),
    ).finally(release);
    const after = await held();
    pairs.forEach((b, i) => {
      const statuses = [replies[2 * i]!.status, replies[2 * i + 1]!.status].sort();
      expect(statuses, b).toEqual([202, 409]);
      expect(after.filter((x) => x === b || x.endsWith(`.${b}`)), b).toHaveLength(1);
    });
  });
});

describe('apps routes', () => {
  it("another org's app is indistinguishable from a missing one on every route", async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name(), image: 'a:1' } });
    await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    const routes: [string, string][] = [
      ['GET', `/apps/${r.body.appId}`],
      ['POST', `/apps/${r.body.appId}/restart`],
      ['POST', `/apps/${r.body.appId}/stop`],
      ['DELETE', `/apps/${r.body.appId}`],
      ['GET', `/apps/${r.body.appId}/logs`],
      ['GET', `/apps/${r.body.appId}/deployments/${r.body.deploymentId}/logs`],
      ['POST', `/apps/${r.body.appId}/deployments/${r.body.deploymentId}/cancel`],
    ];
    for (const [m, u] of routes) {
      const theirs = await call(m, u, { token: bob.accessToken });
      const missing = await call(m, u.replace(r.body.appId, 'app_doesnotexist'), { token: bob.accessToken });
      expect(theirs.status, `${m} ${u}`).toBe(404);
      expect(theirs.body).toEqual(missing.body);
      expect(theirs.body.error).toBe('app_not_found');
    }
    expect((await call('GET', '/apps', { token: bob.accessToken })).body.apps.some((a: { id: string }) => a.id === r.body.appId)).toBe(false);
    expect((await call('GET', `/apps/${r.body.appId}`, { token: alice.accessToken })).status).toBe(200);
  });

  it('logs snapshot: tail default 200, at most 2000, validated', async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('logs'), image: 'a:1' } });
    await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    const [c] = await docker.listContainers({ [LABELS.app]: r.body.appId });
    for (let i = 0; i < 250; i++) docker.emitLog(c!.id, `line ${i}`, i % 2 ? 'stderr' : 'stdout');
    const def = await call('GET', `/apps/${r.body.appId}/logs`, { token: alice.accessToken });
    expect(def.body.lines).toHaveLength(200);
    expect(def.body.lines.at(-1)).toMatchObject({ service: 'app', stream: 'stderr', text: 'line 249' });
    const three = await call('GET', `/apps/${r.body.appId}/logs?tail=3`, { token: alice.accessToken });
    expect(three.body.lines.map((l: { text: string }) => l.text)).toEqual(['line 247', 'line 248', 'line 249']);
    for (const t of ['0', '2001', 'abc']) {
      const bad = await call('GET', `/apps/${r.body.appId}/logs?tail=${t}`, { token: alice.accessToken });
      expect(bad.status).toBe(400);
      expect(bad.body.details.fieldErrors.tail).toBeDefined();
    }
  });

  it('stop → 503 route and status stopped; restart recreates and routes again; delete removes everything', async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('life'), image: 'a:1', secretFiles: ['tls'] } });
    await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    const [before] = await docker.listContainers({ [LABELS.app]: r.body.appId });
    const stopped = await call('POST', `/apps/${r.body.appId}/stop`, { token: alice.accessToken });
    expect(stopped.status).toBe(200);
    expect(stopped.body.app.status).toBe('stopped');
    expect(h.deps.ingress.routes().find((x) => x.domain === r.body.domain)?.targets).toEqual([]);
    expect((await docker.inspectContainer(before!.id))!.running).toBe(false);
    const restarted = await call('POST', `/apps/${r.body.appId}/restart`, { token: alice.accessToken });
    expect(restarted.body.app.status).toBe('running');
    const [after] = await docker.listContainers({ [LABELS.app]: r.body.appId });
    expect(after!.id).not.toBe(before!.id);
    expect(docker.secretFilesOf(after!.id)).toEqual({ KEY: 'pem-bytes' });
    expect(h.deps.ingress.routes().find((x) => x.domain === r.body.domain)?.targets).toEqual([{ host: '127.0.0.1', port: after!.hostPort }]);
    await call('POST', '/secrets', { token: alice.accessToken, body: { name: 'mine', appId: r.body.appId, data: { A: 'b' } } });
    const del = await call('DELETE', `/apps/${r.body.appId}`, { token: alice.accessToken });
    expect(del.body).toEqual({ deleted: true, id: r.body.appId });
    expect(await docker.listContainers({ [LABELS.app]: r.body.appId }, { all: true })).toEqual([]);
    expect(await docker.listNetworks({ [LABELS.app]: r.body.appId })).toEqual([]);
    expect(h.deps.ingress.routes().find((x) => x.domain === r.body.domain)).toBeUndefined();
    expect((await call('GET', `/secrets/mine?appId=${r.body.appId}`, { token: alice.accessToken })).status).toBe(404);
    expect((await call('GET', `/apps/${r.body.appId}`, { token: alice.accessToken })).status).toBe(404);
    // the domain is free again
    expect((await call('POST', '/deploy', { token: bob.accessToken, body: { name: name('reuse'), image: 'a:1', domain: r.body.domain } })).status).toBe(202);
  });

  it('a restart whose new containers never answer fails with a clear error and leaves the running release serving', async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('sick'), image: 'acme/sick:1' } });
    await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    const before = h.deps.ingress.routes().find((x) => x.domain === r.body.domain)!.targets;
    docker.failHealth('acme/sick:1'); // from now on its new containers never become healthy
    const res = await call('POST', `/apps/${r.body.appId}/restart`, { token: alice.accessToken });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'unavailable', message: expect.stringMatching(/^The restart failed: .*healthy/i) });
    const after = await call('GET', `/apps/${r.body.appId}`, { token: alice.accessToken });
    expect(after.body.app).toMatchObject({ status: 'running', currentDeploymentId: r.body.deploymentId });
    expect(after.body.deployments[0]).toMatchObject({ trigger: 'restart', status: 'failed' });
    expect(h.deps.ingress.routes().find((x) => x.domain === r.body.domain)!.targets).toEqual(before);
  });

  it('cancels a queued deployment, and a newer deployment cancels a still-queued older one', async () => {
    await h.worker.stop(); // hold the queue
    try {
      const app = name('q');
      const a = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'a:1' } });
      const b = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'a:2' } });
      const got = await call('GET', `/apps/${a.body.appId}`, { token: alice.accessToken });
      expect(got.body.deployments.find((d: { id: string }) => d.id === a.body.deploymentId)).toMatchObject({ status: 'canceled', error: expect.stringMatching(/superseded/) });
      const c = await call('POST', `/apps/${a.body.appId}/deployments/${b.body.deploymentId}/cancel`, { token: alice.accessToken });
      expect(c.status).toBe(200);
      expect(c.body.status).toBe('canceled');
      const again = await call('POST', `/apps/${a.body.appId}/deployments/${b.body.deploymentId}/cancel`, { token: alice.accessToken });
      expect(again.status).toBe(409);
      expect(again.body.error).toBe('conflict');
    } finally {
      await h.worker.start();
    }
  });
});

describe('multi-service apps', () => {
  it('starts services in dependsOn order on one network, routes the first routed service on the app domain', async () => {
    const app = name('multi');
    const r = await call('POST', '/deploy', {
      token: alice.accessToken,
      body: {
        name: app,
        env: { SHARED: 'top', OVERRIDE: 'top' },
        services: [
          { name: 'web', image: 'acme/web:1', port: 8080, dependsOn: ['api'], env: { OVERRIDE: 'web' } },
          { name: 'api', image: 'acme/api:1', port: 9000, dependsOn: ['db'], healthcheck: { path: '/healthz' } },
          { name: 'db', image: 'acme/db:1', volumes: [{ name: 'data', path: '/var/lib/data' }] },
        ],
      },
    });
    expect(r.status).toBe(202);
    expect(r.body.domain).toBe(`${app}.apps.test`);
    const { app: dto } = await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    expect(dto.services.map((s: { name: string; domain: string | null }) => [s.name, s.domain])).toEqual([
      ['web', `${app}.apps.test`],
      ['api', `api-${app}.apps.test`],
      ['db', null],
    ]);
    const runs = docker.calls.filter((c) => c.method === 'runContainer' && (c.args[0] as { labels: Record<string, string> }).labels[LABELS.app] === r.body.appId);
    expect(runs.map((c) => (c.args[0] as { aliases: string[] }).aliases[0])).toEqual(['db', 'api', 'web']);
    const web = runs[2]!.args[0] as { env: Record<string, string>; network: string };
    expect(web.env).toEqual({ SHARED: 'top', OVERRIDE: 'web' });
    expect(new Set(runs.map((c) => (c.args[0] as { network: string }).network)).size).toBe(1);
    expect(h.deps.ingress.routes().filter((x) => x.appId === r.body.appId).map((x) => x.domain).sort()).toEqual([`${app}.apps.test`, `api-${app}.apps.test`].sort());
  });

  it('builds services from the top-level repo they come with, and pulls the others', async () => {
    const app = name('built');
    const r = await call('POST', '/deploy', {
      token: alice.accessToken,
      body: { name: app, repo: 'https://github.com/acme/shop', branch: 'main', services: [{ name: 'web', dockerfile: 'web/Dockerfile', context: 'web', port: 8080 }, { name: 'cache', image: 'acme/cache:1' }] },
    });
    expect(r.status, r.raw).toBe(202);
    expect(r.body.webhook).toMatchObject({ url: expect.stringContaining(r.body.appId) });
    const { app: dto, deployment } = await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    expect(deployment.status).toBe('succeeded');
    expect(dto).toMatchObject({ kind: 'services', repo: { url: 'https://github.com/acme/shop', branch: 'main' } });
    const builds = docker.calls.filter((c) => c.method === 'buildFromGit' && (c.args[0] as { labels: Record<string, string> }).labels[LABELS.app] === r.body.appId);
    expect(builds.map((c) => [(c.args[0] as { dockerfile: string }).dockerfile, (c.args[0] as { context: string }).context])).toEqual([['web/Dockerfile', 'web']]);
    expect(deployment.images.web).toMatch(/^sha256:/);
    // Still only one source besides services: an image with services is refused.
    const both = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('both'), image: 'a:1', services: [{ name: 'web', image: 'a:1' }] } });
    expect(both.body.error).toBe('validation');
  });

  it('refuses unknown dependsOn, cycles and duplicate names', async () => {
    const cyc = await call('POST', '/deploy', { token: alice.accessToken, body: { name: 'cyc', services: [{ name: 'a', image: 'x:1', dependsOn: ['b'] }, { name: 'b', image: 'x:1', dependsOn: ['a'] }] } });
    expect(cyc.body.error).toBe('validation');
    const dup = await call('POST', '/deploy', { token: alice.accessToken, body: { name: 'dup', services: [{ name: 'a', image: 'x:1' }, { name: 'a', image: 'x:1' }] } });
    expect(dup.body.error).toBe('validation');
    const unk = await call('POST', '/deploy', { token: alice.accessToken, body: { name: 'unk', services: [{ name: 'a', image: 'x:1', dependsOn: ['zz'] }] } });
    expect(unk.body.error).toBe('validation');
  });
});

describe('sealed vault', () => {
  it('a deploy that must encrypt answers 503 sealed and stores nothing; apps stay readable', async () => {
    const app = name('seal');
    const ok = await call('POST', '/deploy', { token: alice.accessToken, body: { name: app, image: 'a:1' } });
    await waitFor(ok.body.appId, ok.body.deploymentId, alice.accessToken);
    await h.deps.vault.seal();
    try {
      const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('seal2'), image: 'a:1', env: { A: 'b' } } });
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('sealed');
      expect((await call('GET', `/apps/${ok.body.appId}`, { token: alice.accessToken })).status).toBe(200);
      expect((await call('GET', '/apps', { token: alice.accessToken })).body.apps.some((a: { name: string }) => a.name.startsWith('seal2'))).toBe(false);
    } finally {
      const op = await operator();
      await unseal(op, masterKey);
    }
  });
});

describe('quotas', () => {
  let q: Harness;
  const qc = client(() => q);
  beforeAll(async () => {
    q = await startHarness({ QUOTA_MAX_APPS: '5', QUOTA_MAX_CPU: '2', QUOTA_MAX_MEMORY_MB: '2048' });
  });
  afterAll(async () => {
    await q.close();
  });

  it('enforces per-org quotas; updating an app counts its new size, not a second app', async () => {
    const carol = await qc.register();
    const big = await qc.call('POST', '/deploy', { token: carol.accessToken, body: { name: 'big', image: 'a:1', cpu: 1.5, memory: 1024 } });
    expect(big.status).toBe(202);
    const cpu = await qc.call('POST', '/deploy', { token: carol.accessToken, body: { name: 'more', image: 'a:1', cpu: 1 } });
    expect(cpu.status).toBe(403);
    expect(cpu.body.error).toBe('quota_exceeded');
    const mem = await qc.call('POST', '/deploy', { token: carol.accessToken, body: { name: 'more', image: 'a:1', memory: 1100 } });
    expect(mem.body.error).toBe('quota_exceeded');
    const resize = await qc.call('POST', '/deploy', { token: carol.accessToken, body: { name: 'big', image: 'a:1', cpu: 2, memory: 2048 } });
    expect(resize.status).toBe(202);
    const shrink = await qc.call('POST', '/deploy', { token: carol.accessToken, body: { name: 'big', image: 'a:1', cpu: 0.25, memory: 64 } });
    expect(shrink.status).toBe(202);
    for (let i = 0; i < 4; i++) expect((await qc.call('POST', '/deploy', { token: carol.accessToken, body: { name: `n${i}`, image: 'a:1', cpu: 0.25, memory: 64 } })).status).toBe(202);
    const sixth = await qc.call('POST', '/deploy', { token: carol.accessToken, body: { name: 'n5', image: 'a:1', cpu: 0.25, memory: 64 } });
    expect(sixth.body.error).toBe('quota_exceeded');
    expect((await qc.call('GET', '/apps', { token: carol.accessToken })).body.apps).toHaveLength(5);
  });

  it('holds under concurrent deploys: 10 new apps at once against 5 allowed → exactly 5 stored, the rest 403 quota_exceeded', async () => {
    const erin = await qc.register();
    const release = holdAtQueueDoor(q, 10);
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => qc.call('POST', '/deploy', { token: erin.accessToken, body: { name: `rush-${i}`, image: 'a:1', cpu: 0.1, memory: 64 } }))).finally(release);
    expect(replies.map((r) => r.status).sort()).toEqual([...Array(5).fill(202), ...Array(5).fill(403)]);
    expect(replies.filter((r) => r.status === 403).every((r) => r.body.error === 'quota_exceeded')).toBe(true);
    expect((await qc.call('GET', '/apps', { token: erin.accessToken })).body.apps).toHaveLength(5);
  });

  it('holds cpu under concurrent deploys too: 8 apps of 0.5 cores at once against 2 cores → exactly 4', async () => {
    const fay = await qc.register();
    const release = holdAtQueueDoor(q, 8);
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => qc.call('POST', '/deploy', { token: fay.accessToken, body: { name: `cpu-${i}`, image: 'a:1', cpu: 0.5, memory: 64 } }))).finally(release);
    expect(replies.map((r) => r.status).sort()).toEqual([...Array(4).fill(202), ...Array(4).fill(403)]);
    const apps = await q.deps.db.selectFrom('apps').select('spec').where('org_id', '=', fay.orgId).execute();
    expect(apps.reduce((t, a) => t + JSON.parse(a.spec).services[0].cpu, 0)).toBeCloseTo(2);
  });
});

describe('reconciliation on start', () => {
  it("removes its own orphans (deleted apps, superseded deployments), leaves other control planes' containers alone, and rebuilds routes", async () => {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('rec'), image: 'a:1' } });
    await waitFor(r.body.appId, r.body.deploymentId, alice.accessToken);
    const base = { [LABELS.managed]: 'true', [LABELS.service]: 'app' };
    const stale = await docker.runContainer({ name: 'stale', image: 'a:1', labels: { ...base, [LABELS.org]: alice.orgId, [LABELS.app]: r.body.appId, [LABELS.deployment]: 'dep_old' } });
    const orphan = await docker.runContainer({ name: 'orphan', image: 'a:1', labels: { ...base, [LABELS.org]: alice.orgId, [LABELS.app]: 'app_gone', [LABELS.deployment]: 'dep_x' } });
    const foreign = await docker.runContainer({ name: 'foreign', image: 'a:1', labels: { ...base, [LABELS.org]: 'org_of_another_plane', [LABELS.app]: 'app_y', [LABELS.deployment]: 'dep_y' } });
    await h.deps.ingress.replaceAll([]);
    await h.services.reconciler.pass();
    expect(await docker.inspectContainer(stale.id)).toBeNull();
    expect(await docker.inspectContainer(orphan.id)).toBeNull();
    expect(await docker.inspectContainer(foreign.id)).not.toBeNull();
    const [current] = await docker.listContainers({ [LABELS.app]: r.body.appId });
    expect(h.deps.ingress.routes().find((x) => x.domain === r.body.domain)?.targets).toEqual([{ host: '127.0.0.1', port: current!.hostPort }]);
    await docker.removeContainer(foreign.id);
  });
});
