// GET /metrics on the fake engine: the METRICS_TOKEN guard, the body read by a real Prometheus text-format parser,
// and the series moving with what happens (deployments, builds, the queue, the vault, container restarts, reconcile
// actions, HTTP latency by route pattern). Two servers in one process keep their own registries.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDockerDriver, LABELS, type FakeDockerDriver } from '@cynchro/docker-driver';
import { getMetricsFromIterator, type PromMetrics } from 'prom2javascript';
import { loadConfig } from '../src/config.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle, until } from './wait.js';

const TOKEN = randomBytes(24).toString('hex');
const OTHER_TOKEN = randomBytes(24).toString('hex');
const ENV = { ...ADMIN_ENV, QUOTA_MAX_APPS: '100', QUOTA_MAX_CPU: '64', QUOTA_MAX_MEMORY_MB: '100000', ROOT_DOMAIN: 'apps.test' };
const OPTS = { reconciler: { settleMs: 20, intervalMs: 60_000 }, runtime: { reconnectMinMs: 10, reconnectMaxMs: 50 }, worker: { timeouts: { drainMs: 20 } } };

let h: Harness;
let other: Harness;
let docker: FakeDockerDriver;
const { call, register, operator, unseal } = client(() => h);
let alice: TestUser;
let n = 0;
const name = (p = 'app') => `${p}-${++n}-${process.pid % 1000}`;

beforeAll(async () => {
  docker = createFakeDockerDriver();
  [h, other] = await Promise.all([startHarness({ ...ENV, METRICS_TOKEN: TOKEN }, { docker, ...OPTS }), startHarness({ METRICS_TOKEN: OTHER_TOKEN })]);
  alice = await register();
});
afterAll(async () => {
  await Promise.all([h?.close(), other?.close()]);
});

// ---- reading the exposition -------------------------------------------------------------------------------------

/** The exposition parsed by a Prometheus text-format parser (it throws on a malformed line). */
function parse(text: string): Promise<PromMetrics> {
  return getMetricsFromIterator(text.split('\n')[Symbol.iterator]());
}

async function scrape(server = h, token = TOKEN): Promise<PromMetrics> {
  const r = await server.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${token}` } });
  expect(r.statusCode, r.body).toBe(200);
  return parse(r.body);
}

type Sample = { labels: Record<string, string>; value?: number; count?: number; sum?: number; buckets?: Record<string, number> };
const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort());

function samples(fams: PromMetrics, name: string): Sample[] {
  return (fams[name]?.data ?? []) as Sample[];
}

/** The sample whose labels are exactly `labels` (a histogram's `le` aside). */
function sampleOf(fams: PromMetrics, name: string, labels: Record<string, string> = {}): Sample | undefined {
  return samples(fams, name).find((m) => key(m.labels) === key(labels));
}

/** A counter's or gauge's value (0 when the series does not exist yet). */
function value(fams: PromMetrics, name: string, labels: Record<string, string> = {}): number {
  return sampleOf(fams, name, labels)?.value ?? 0;
}

/** A histogram's count (0 when the series does not exist yet). */
function count(fams: PromMetrics, name: string, labels: Record<string, string> = {}): number {
  return sampleOf(fams, name, labels)?.count ?? 0;
}

/** Waits until `read` of a fresh scrape is `want`. */
async function scraped(what: string, read: (fams: PromMetrics) => number, want: number, server = h, token = TOKEN): Promise<PromMetrics> {
  let last = NaN;
  try {
    return await until(what, async () => {
      const fams = await scrape(server, token);
      last = read(fams);
      return last === want ? fams : false;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${last} instead of ${want}`);
  }
}

async function deploy(body: Record<string, unknown>, want: 'succeeded' | 'failed') {
  const r = await call('POST', '/deploy', { token: alice.accessToken, body });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const s = await settle(call, r.body.appId, r.body.deploymentId, alice.accessToken);
  expect(s.deployment.status, JSON.stringify(s.deployment)).toBe(want);
  return { appId: r.body.appId as string, deploymentId: r.body.deploymentId as string };
}

// ---- the tests ----------------------------------------------------------------------------------------------------

describe('GET /metrics: the METRICS_TOKEN guard', () => {
  it('METRICS_TOKEN: empty disables; a short or spaced token fails the start with the variable named', () => {
    expect(loadConfig({}).metricsToken).toBe('');
    expect(loadConfig({ METRICS_TOKEN: '' }).metricsToken).toBe('');
    expect(loadConfig({ METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
    for (const bad of ['short', 'sixteen chars  with spaces']) expect(() => loadConfig({ METRICS_TOKEN: bad })).toThrow(/METRICS_TOKEN: must be at least 16 characters/);
  });

  it('unset: 404 not_found for everyone, exactly as an unknown path answers', async () => {
    const plain = await startHarness({}, { start: false });
    try {
      const unknown = await plain.app.inject({ url: '/no-such-path' });
      for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }, { authorization: 'Bearer ' }]) {
        const r = await plain.app.inject({ url: '/metrics', headers });
        expect(r.statusCode).toBe(404);
        expect(r.json()).toEqual({ error: 'not_found', message: 'No such route' });
        expect(r.json()).toEqual(unknown.json());
      }
    } finally {
      await plain.close();
    }
  });

  it('set: a missing, malformed or wrong bearer answers 404 not_found; the right one 200 in the text format 0.0.4', async () => {
    const wrong = [
      {},
      { authorization: TOKEN },
      { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
      { authorization: `Bearer ${TOKEN.slice(0, -1)}x` }, // same length, last character differs
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Bearer ${TOKEN.slice(0, 8)}` },
      { authorization: `Bearer ${OTHER_TOKEN}` }, // another server's token
    ];
    for (const headers of wrong) {
      const r = await h.app.inject({ url: '/metrics', headers });
      expect(r.statusCode, JSON.stringify(headers)).toBe(404);
      expect(r.json()).toEqual({ error: 'not_found', message: 'No such route' });
    }
    const q = await h.app.inject({ url: `/metrics?token=${TOKEN}` });
    expect(q.statusCode).toBe(404);

    const ok = await h.app.inject({ url: '/metrics', headers: { authorization: `bearer  ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4(;|$)/);
    expect(ok.headers['cache-control']).toBe('no-store');
    const fams = await parse(ok.body);
    const types = Object.fromEntries(Object.entries(fams).map(([name, f]) => [name, f.type]));
    expect(types).toEqual({
      cynchro_http_request_duration_seconds: 'histogram',
      cynchro_deployments_total: 'counter',
      cynchro_deployment_duration_seconds: 'histogram',
      cynchro_deployment_queue_depth: 'gauge',
      cynchro_builds_total: 'counter',
      cynchro_build_duration_seconds: 'histogram',
      cynchro_reconcile_actions_total: 'counter',
      cynchro_container_restarts_total: 'counter',
      cynchro_container_crashes_total: 'counter',
      cynchro_vault_sealed: 'gauge',
    });
    for (const [name, f] of Object.entries(fams)) {
      expect(f.help.length, `${name} has help`).toBeGreaterThan(10);
      const sets = samples(fams, name).map((s) => key(s.labels));
      expect(new Set(sets).size, `${name} has no duplicate series`).toBe(sets.length);
    }
    // Known label sets start at 0.
    expect(sampleOf(fams, 'cynchro_builds_total', { outcome: 'failed' })?.value).toBe(0);
    expect(sampleOf(fams, 'cynchro_reconcile_actions_total', { kind: 'recreated' })).toBeDefined();
  });

  it('/openapi.json documents it with its own bearer scheme and the 404', async () => {
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    const op = doc.paths['/metrics'].get;
    expect(op.security).toEqual([{ MetricsToken: [] }]);
    expect(doc.components.securitySchemes.MetricsToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(op.responses['200'].content)).toEqual(['text/plain; version=0.0.4']);
    expect(op.responses['404'].description).toContain('`not_found`');
    expect(doc.paths['/auth/me'].get.security).toEqual([{ Authorization: [] }]);
  });
});

describe('series', () => {
  it('vault sealed: 1 on a fresh server, 0 after the unseal', async () => {
    expect(value(await scrape(), 'cynchro_vault_sealed')).toBe(1);
    const r = await unseal(await operator(), newMasterKey());
    expect(r.status, r.raw).toBe(200);
    expect(value(await scrape(), 'cynchro_vault_sealed')).toBe(0);
    // The other server's vault is its own.
    expect(value(await scrape(other, OTHER_TOKEN), 'cynchro_vault_sealed')).toBe(1);
  });

  it('a deploy that succeeds and one that fails: counted by status and trigger, with their durations', async () => {
    const before = await scrape();
    const ok = { status: 'succeeded', trigger: 'api' };
    const bad = { status: 'failed', trigger: 'api' };
    await deploy({ name: name('ok'), image: 'acme/web:1' }, 'succeeded');
    docker.failHealth('acme/broken:1');
    await deploy({ name: name('bad'), image: 'acme/broken:1' }, 'failed');

    const after = await scraped('the failed deployment counted', (f) => value(f, 'cynchro_deployments_total', bad), value(before, 'cynchro_deployments_total', bad) + 1);
    expect(value(after, 'cynchro_deployments_total', ok)).toBe(value(before, 'cynchro_deployments_total', ok) + 1);
    expect(count(after, 'cynchro_deployment_duration_seconds', ok)).toBe(count(before, 'cynchro_deployment_duration_seconds', ok) + 1);
    expect(count(after, 'cynchro_deployment_duration_seconds', bad)).toBe(count(before, 'cynchro_deployment_duration_seconds', bad) + 1);
    const hist = sampleOf(after, 'cynchro_deployment_duration_seconds', ok)!;
    expect(Number(hist.sum)).toBeGreaterThanOrEqual(0);
    expect(Number(hist.sum)).toBeLessThan(60);
    const bounds = Object.keys(hist.buckets!);
    expect(hist.buckets!['+Inf']).toBe(hist.count);
    // Cumulative buckets never decrease.
    const sorted = bounds.filter((b) => b !== '+Inf').sort((a, b) => Number(a) - Number(b));
    for (let i = 1; i < sorted.length; i++) expect(Number(hist.buckets![sorted[i]!])).toBeGreaterThanOrEqual(Number(hist.buckets![sorted[i - 1]!]));
    // No label names an app or a deployment.
    for (const s of samples(after, 'cynchro_deployments_total')) expect(Object.keys(s.labels).sort()).toEqual(['status', 'trigger']);
  });

  it('a restart is counted under its own trigger', async () => {
    const a = await deploy({ name: name('rs'), image: 'acme/web:1' }, 'succeeded');
    const before = await scrape();
    const r = await call('POST', `/apps/${a.appId}/restart`, { token: alice.accessToken });
    expect(r.status, r.raw).toBe(200);
    const want = { status: 'succeeded', trigger: 'restart' };
    await scraped('the restart counted', (f) => value(f, 'cynchro_deployments_total', want), value(before, 'cynchro_deployments_total', want) + 1);
  });

  it('image builds: counted by outcome, with their durations', async () => {
    const before = await scrape();
    await deploy({ name: name('built'), repo: 'https://github.com/acme/metrics-ok', branch: 'main', port: 8080 }, 'succeeded');
    docker.failBuild('https://github.com/acme/metrics-broken');
    await deploy({ name: name('unbuilt'), repo: 'https://github.com/acme/metrics-broken', branch: 'main', port: 8080 }, 'failed');
    const after = await scraped('the failed build counted', (f) => value(f, 'cynchro_builds_total', { outcome: 'failed' }), value(before, 'cynchro_builds_total', { outcome: 'failed' }) + 1);
    expect(value(after, 'cynchro_builds_total', { outcome: 'succeeded' })).toBe(value(before, 'cynchro_builds_total', { outcome: 'succeeded' }) + 1);
    expect(count(after, 'cynchro_build_duration_seconds', { outcome: 'succeeded' })).toBe(count(before, 'cynchro_build_duration_seconds', { outcome: 'succeeded' }) + 1);
    expect(count(after, 'cynchro_build_duration_seconds', { outcome: 'failed' })).toBe(count(before, 'cynchro_build_duration_seconds', { outcome: 'failed' }) + 1);
    // An image app builds nothing.
    await deploy({ name: name('img'), image: 'acme/web:1' }, 'succeeded');
    const later = await scrape();
    expect(value(later, 'cynchro_builds_total', { outcome: 'succeeded' })).toBe(value(after, 'cynchro_builds_total', { outcome: 'succeeded' }));
  });

  it('queue depth: deployments queued now, read at scrape time, back to 0 once they ran', async () => {
    await h.worker.idle();
    const depth = (f: PromMetrics, status: string) => value(f, 'cynchro_deployment_queue_depth', { status });
    const idle = await scrape();
    expect([depth(idle, 'queued'), depth(idle, 'building'), depth(idle, 'deploying')]).toEqual([0, 0, 0]);
    await h.worker.stop(); // hold the queue
    const queued: { appId: string; deploymentId: string }[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('q'), image: 'acme/web:1' } });
        expect(r.status).toBe(202);
        queued.push(r.body);
      }
      const held = await scrape();
      expect(depth(held, 'queued')).toBe(3);
      expect(depth(held, 'building') + depth(held, 'deploying')).toBe(0);
    } finally {
      h.worker.start();
    }
    for (const q of queued) await settle(call, q.appId, q.deploymentId, alice.accessToken);
    await h.worker.idle();
    const done = await scrape();
    expect([depth(done, 'queued'), depth(done, 'building'), depth(done, 'deploying')]).toEqual([0, 0, 0]);
  });

  it('container restarts and crashes on the engine, and the reconciler actions that repair', async () => {
    const a = await deploy({ name: name('crash'), image: 'acme/web:1' }, 'succeeded');
    const [c] = await docker.listContainers({ [LABELS.app]: a.appId }, { all: true });
    const before = await scrape();
    const restarts = (f: PromMetrics) => value(f, 'cynchro_container_restarts_total');
    const action = (f: PromMetrics, kind: string) => value(f, 'cynchro_reconcile_actions_total', { kind });

    // The app exits by itself; the engine's restart policy brings it back.
    docker.crash(c!.id, 1);
    const crashed = await scraped('the restart after a crash counted', restarts, restarts(before) + 1);
    expect(value(crashed, 'cynchro_container_crashes_total', { reason: 'exit' })).toBe(value(before, 'cynchro_container_crashes_total', { reason: 'exit' }) + 1);

    // docker kill: the reconciler starts it again (a restart, and its action).
    docker.kill(c!.id);
    const killed = await scraped('the reconciler restart counted', (f) => action(f, 'restarted'), action(before, 'restarted') + 1);
    await scraped('the restarted replica answering counted', restarts, restarts(before) + 2);
    // A kill is not the app crashing.
    expect(value(killed, 'cynchro_container_crashes_total', { reason: 'exit' })).toBe(value(crashed, 'cynchro_container_crashes_total', { reason: 'exit' }));

    // docker rm -f: the reconciler recreates it.
    docker.removeExternally(c!.id);
    await scraped('the recreation counted', (f) => action(f, 'recreated'), action(before, 'recreated') + 1);
  });

  it('HTTP latency by route pattern: two app ids are one route, unknown paths one label, never the raw URL', async () => {
    const before = await scrape();
    const route = { method: 'GET', route: '/apps/:id', status_code: '404' };
    for (const id of ['app_x', 'app_y']) {
      const r = await call('GET', `/apps/${id}`, { token: alice.accessToken });
      expect(r.status).toBe(404);
    }
    const unknown = `/nothing-here-${randomBytes(4).toString('hex')}`;
    expect((await h.app.inject({ url: unknown })).statusCode).toBe(404);
    expect((await h.app.inject({ url: '/healthz' })).statusCode).toBe(200);

    const after = await scrape();
    expect(count(after, 'cynchro_http_request_duration_seconds', route)).toBe(count(before, 'cynchro_http_request_duration_seconds', route) + 2);
    const unmatched = { method: 'GET', route: 'unmatched', status_code: '404' };
    expect(count(after, 'cynchro_http_request_duration_seconds', unmatched)).toBe(count(before, 'cynchro_http_request_duration_seconds', unmatched) + 1);
    expect(count(after, 'cynchro_http_request_duration_seconds', { method: 'GET', route: '/healthz', status_code: '200' })).toBeGreaterThanOrEqual(1);
    const routes = new Set(samples(after, 'cynchro_http_request_duration_seconds').map((m) => m.labels.route));
    for (const r of routes) expect(r, 'a route label is a pattern').not.toMatch(/app_x|app_y|nothing-here|app_[a-z0-9]{6,}/);
    expect(routes).toContain('/apps/:id');
    expect(routes).toContain('/deploy');
    expect(routes).toContain('/metrics');
    const s = sampleOf(after, 'cynchro_http_request_duration_seconds', route)!;
    expect(Number(s.sum)).toBeGreaterThan(0);
    expect(Number(s.sum)).toBeLessThan(10);
  });

  it('two servers in one process keep separate counts', async () => {
    const healthz = { method: 'GET', route: '/healthz', status_code: '200' };
    const mine = await scrape();
    const theirs = await scrape(other, OTHER_TOKEN);
    for (let i = 0; i < 3; i++) expect((await other.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect(count(await scrape(other, OTHER_TOKEN), 'cynchro_http_request_duration_seconds', healthz)).toBe(count(theirs, 'cynchro_http_request_duration_seconds', healthz) + 3);
    expect(count(await scrape(), 'cynchro_http_request_duration_seconds', healthz)).toBe(count(mine, 'cynchro_http_request_duration_seconds', healthz));
    // The deployments of the first server are not the second's.
    expect(value(mine, 'cynchro_deployments_total', { status: 'succeeded', trigger: 'api' })).toBeGreaterThan(0);
    expect(samples(theirs, 'cynchro_deployments_total')).toEqual([]);
    expect(value(theirs, 'cynchro_container_restarts_total')).toBe(0);
  });
});
