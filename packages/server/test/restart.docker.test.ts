// Kill the control plane (SIGKILL) in the middle of a deployment, start it again on the same DATA_DIR: the
// interrupted deployment ends `failed` (`interrupted`), its half-started container is removed, and the previous
// version keeps being served through rebuilt routes. Then twenty such kills at random moments of a redeploy
// (queued, deploying, around the switch, after it) while a client polls the app. Real engine, real server processes.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, LABELS } from '@cynchro/docker-driver';
import { buildBusybox, exec, imageLabels } from '@cynchro/docker-driver/testing';
import { get } from './http-get.js';
import { cleanUpLiveServer } from './engine-cleanup.js';
import { startLiveServer, type LiveServer } from './spawn-server.js';
import { FINAL, until } from './wait.js';

const docker = createDockerodeDriver();
const testImages = imageLabels();
let server: LiveServer;
let webImage: string;
let slowImage: string;
let versionImage: string;
let token = '';
let orgId = '';
const email = `ops-${randomBytes(4).toString('hex')}@example.com`;
const masterKey = randomBytes(32).toString('hex');

/**
 * One API call on a connection of its own: this file kills servers, and a pooled keep-alive socket to a killed
 * predecessor on the same port would fail the first request to its successor.
 */
function api(method: string, path: string, body?: unknown, auth = token): Promise<{ status: number; body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      server.url + path,
      {
        method,
        agent: false,
        timeout: 10_000,
        headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}), ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      },
      (res) => {
        let raw = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (raw += c));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined });
          } catch (e) {
            reject(new Error(`${method} ${path}: HTTP ${res.statusCode}, not JSON: ${raw.slice(0, 200)} (${String(e)})`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function deploymentStatus(appId: string, id: string) {
  const r = await api('GET', `/apps/${appId}`);
  return r.body.deployments.find((d: { id: string }) => d.id === id) as { status: string; error: string | null };
}

beforeAll(async () => {
  [webImage, slowImage, versionImage] = await Promise.all([
    buildBusybox(docker, testImages, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","echo v1 > /www/index.html; exec httpd -f -p 8080 -h /www"]`),
    buildBusybox(docker, testImages, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","sleep 600"]`),
    // Serves its inline env's $VERSION: which release answers is visible in every response.
    buildBusybox(docker, testImages, `RUN ["/bin/mkdir","-p","/www"]\nCMD ["sh","-c","echo version=$VERSION > /www/index.html; exec httpd -f -p 8080 -h /www"]`),
  ]);
  server = await startLiveServer({ ROOT_DOMAIN: 'apps.test', ADMIN_EMAILS: email });
  const reg = await api('POST', '/auth/register', { email, password: 'restart password' }, '');
  token = reg.body.accessToken;
  orgId = reg.body.orgId;
  // Operators prove control of the host with the token the server keeps in DATA_DIR (where the server has one).
  const operatorToken = path.join(server.dataDir, 'operator-token');
  if (fs.existsSync(operatorToken)) expect((await api('POST', '/admin/claim', { token: fs.readFileSync(operatorToken, 'utf8').trim() })).status).toBe(200);
  expect((await api('POST', '/admin/unseal', { key: masterKey })).status).toBe(200);
  expect((await api('POST', '/secrets', { name: 'files', data: { TOKEN: 'file-survives-restarts' } })).status).toBe(200);
}, 120_000);

afterAll(() => cleanUpLiveServer({ server, docker, orgId, testImages }), 60_000);

describe('control plane killed mid-deployment', () => {
  it('comes back with nothing stuck and nothing orphaned, the old version still served', { timeout: 120_000 }, async () => {
    const name = `rs-${randomBytes(3).toString('hex')}`;
    const v1 = (await api('POST', '/deploy', { name, image: webImage, port: 8080, secretFiles: ['files'] })).body;
    await until('v1 to succeed', async () => (await deploymentStatus(v1.appId, v1.deploymentId)).status === 'succeeded', { timeoutMs: 60_000 });
    const ingressPort = Number(server.env.INGRESS_PORT);
    expect((await get(ingressPort, v1.domain)).body).toBe('v1\n');

    // A deployment that will sit in its health check (the container never listens).
    const v2 = (await api('POST', '/deploy', { name, image: slowImage, port: 8080 })).body;
    await until('v2 to have a container', async () => (await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).length > 0, { timeoutMs: 60_000 });
    expect((await deploymentStatus(v2.appId, v2.deploymentId)).status).toBe('deploying');

    server.proc.kill('SIGKILL');
    await new Promise((r) => server.proc.once('exit', r));
    // Killed: the half-started container is still there, and so is v1's.
    expect((await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).length).toBe(1);
    // The ingress is its own process and outlived it: v1 is still served.
    expect(await get(ingressPort, v1.domain)).toEqual({ status: 200, body: 'v1\n' });

    server = await startLiveServer(server.env, { dataDir: server.dataDir });
    const d2 = await deploymentStatus(v2.appId, v2.deploymentId);
    expect(d2).toMatchObject({ status: 'failed', error: 'interrupted' });
    expect(await docker.listContainers({ [LABELS.deployment]: v2.deploymentId }, { all: true })).toEqual([]);
    expect((await docker.listContainers({ [LABELS.app]: v1.appId }, { all: true })).map((c) => c.labels[LABELS.deployment])).toEqual([v1.deploymentId]);
    expect((await api('GET', `/apps/${v1.appId}`)).body.app).toMatchObject({ status: 'running', currentDeploymentId: v1.deploymentId });
    expect(await get(ingressPort, v1.domain)).toEqual({ status: 200, body: 'v1\n' });

    // The deployment's log says why.
    const log = await api('GET', `/apps/${v2.appId}/deployments/${v2.deploymentId}/logs`);
    expect(log.body.lines.at(-1)).toMatchObject({ stream: 'error', text: expect.stringContaining('interrupted') });

    // The new process holds no secret file contents. Unsealing hands them back to the driver, so when the app crashes
    // and the engine restarts it (its tmpfs empty again) the files come back.
    expect((await api('POST', '/admin/unseal', { key: masterKey })).status).toBe(200);
    const [running] = await docker.listContainers({ [LABELS.app]: v1.appId });
    await exec(running!.id, ['kill', '1']).catch(() => undefined); // the app dies; restart policy brings it back
    const cat = async () => (await exec(running!.id, ['cat', '/run/secrets/TOKEN']).catch(() => ({ out: '' }))).out;
    expect(await until('the secret file back after the engine restarted the app', async () => (await cat()) === 'file-survives-restarts', { timeoutMs: 20_000 })).toBe(true);
    // Restarting through the API materialises them again too.
    const restarted = await api('POST', `/apps/${v1.appId}/restart`);
    expect(restarted.status, JSON.stringify(restarted.body)).toBe(200);
    const [fresh] = await docker.listContainers({ [LABELS.app]: v1.appId });
    expect((await exec(fresh!.id, ['cat', '/run/secrets/TOKEN'])).out).toBe('file-survives-restarts');
    expect(await get(ingressPort, v1.domain)).toEqual({ status: 200, body: 'v1\n' });

    expect((await api('DELETE', `/apps/${v1.appId}`)).status).toBe(200);
    expect(await docker.listContainers({ [LABELS.app]: v1.appId }, { all: true })).toEqual([]);
  });
});

/** A small seeded PRNG (mulberry32), so a failing sequence of kill moments can be replayed with CHAOS_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Poll {
  ok: number;
  failed: number;
  /** Failed polls that began and ended while a server process was up and its ingress listening. */
  failedWhileUp: number;
  kinds: Map<string, number>;
  longestOutageMs: number;
  outages: number;
}

describe('control plane killed at random moments of redeploys', () => {
  it('20 rounds: nothing left non-final, nothing orphaned or missing, one version served', { timeout: 1_800_000 }, async () => {
    const ROUNDS = 20;
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const random = prng(seed);
    const ingressPort = Number(server.env.INGRESS_PORT);
    const name = `chaos-${randomBytes(3).toString('hex')}`;
    const versionOf = new Map<string, string>();
    const deploy = async (version: string) => {
      const r = await api('POST', '/deploy', { name, image: versionImage, port: 8080, env: { VERSION: version } });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      versionOf.set(r.body.deploymentId, version);
      return r.body as { appId: string; deploymentId: string; domain: string };
    };

    const first = await deploy('r0');
    await until('the first release to succeed', async () => (await deploymentStatus(first.appId, first.deploymentId)).status === 'succeeded', { timeoutMs: 60_000 });
    const { appId, domain } = first;
    expect(await get(ingressPort, domain)).toEqual({ status: 200, body: 'version=r0\n' });
    // One redeploy left alone: how long a rollout takes on this machine sets the range of the kill moments, so they
    // spread over all of it (queued, deploying, the switch, the drain, after) even on a slow, loaded machine.
    const posted = Date.now();
    const calibration = await deploy('r0b');
    await until('the calibration redeploy to succeed', async () => (await deploymentStatus(appId, calibration.deploymentId)).status === 'succeeded', { timeoutMs: 60_000 });
    const rolloutMs = Date.now() - posted;
    const maxDelayMs = Math.max(2_500, Math.round(rolloutMs * 1.2));
    console.log(`[chaos] a redeploy takes ${rolloutMs} ms here; kills land 0–${maxDelayMs} ms after POST /deploy (seed ${seed})`);

    // The polling client: every ~20 ms, one request on a fresh connection. An outage runs from the last 200
    // before a failure to the next 200; it includes the restart of the server (the ingress lives in it).
    const poll: Poll = { ok: 0, failed: 0, failedWhileUp: 0, kinds: new Map(), longestOutageMs: 0, outages: 0 };
    let up = true; // a server process is up and its ingress listens
    let epoch = 0; // changes at every kill and every restart, so a poll spanning one is never counted as "while up"
    let lastOk = Date.now();
    let outageSince: number | null = null;
    let roundLongest = 0;
    let stopPolling = false;
    const poller = (async () => {
      while (!stopPolling) {
        const startedUp = up;
        const startedEpoch = epoch;
        const t0 = Date.now();
        let kind: string | null;
        try {
          const r = await get(ingressPort, domain, '/', { timeoutMs: 2_000 });
          kind = r.status === 200 && /^version=r[\w-]+\n$/.test(r.body) ? null : `HTTP ${r.status}${r.status === 200 ? ` ${JSON.stringify(r.body)}` : ''}`;
        } catch (e) {
          kind = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        }
        const now = Date.now();
        if (kind === null) {
          poll.ok++;
          if (outageSince !== null) {
            const outage = now - outageSince;
            poll.longestOutageMs = Math.max(poll.longestOutageMs, outage);
            roundLongest = Math.max(roundLongest, outage);
            outageSince = null;
          }
          lastOk = now;
        } else {
          poll.failed++;
          poll.kinds.set(kind, (poll.kinds.get(kind) ?? 0) + 1);
          if (startedUp && up && startedEpoch === epoch) {
            poll.failedWhileUp++;
            console.log(`[chaos] poll failed while the server was up: ${kind} (${now - t0} ms)`);
          }
          if (outageSince === null) {
            outageSince = lastOk;
            poll.outages++;
          }
        }
        await sleep(Math.max(0, 20 - (Date.now() - t0)));
      }
    })();

    const rounds: { round: number; behindAnother: boolean; delayMs: number; phase: string; status: string; error: string | null; restartMs: number; outageMs: number }[] = [];
    try {
      for (let round = 1; round <= ROUNDS; round++) {
        roundLongest = 0;
        // Every fourth round queues the round's deployment behind another one still rolling out, so the kill finds
        // it `queued`; a few kills come right after the 202; the rest anywhere in the rollout.
        const behindAnother = round % 4 === 0;
        const delayMs = round % 7 === 1 ? 0 : Math.round(random() * maxDelayMs);
        const lead = behindAnother ? await deploy(`r${round}-lead`) : undefined;
        const { deploymentId } = await deploy(`r${round}`);
        const ours = [lead?.deploymentId, deploymentId].filter((x): x is string => !!x);
        await sleep(delayMs);
        const killedAt = Date.now();
        up = false;
        epoch++;
        const exited = new Promise((r) => server.proc.once('exit', r));
        server.proc.kill('SIGKILL');
        await exited;
        const previousOutput = server.output();

        try {
          server = await startLiveServer(server.env, { dataDir: server.dataDir, startTimeoutMs: 120_000 });
        } catch (e) {
          throw new Error(`round ${round}: the server did not come back: ${String(e)}\n--- the killed server's output:\n${previousOutput}`);
        }
        const restartMs = Date.now() - killedAt;
        epoch++;
        up = true;
        const ctx = () => `round ${round} (seed ${seed}, kill ${delayMs} ms after POST /deploy)\n--- server output:\n${server.output()}`;

        // A restarted server is sealed; the app's inline env needs the keys (a queued job waits for them).
        const unsealed = await api('POST', '/admin/unseal', { key: masterKey });
        expect(unsealed.status, `${ctx()}\n${JSON.stringify(unsealed.body)}`).toBe(200);

        // Nothing left non-final once the worker settles.
        const settled = await until(
          `round ${round}: every deployment of the app to be final`,
          async () => {
            const r = await api('GET', `/apps/${appId}`);
            return r.status === 200 && r.body.deployments.every((d: { status: string }) => FINAL.includes(d.status)) ? r.body : undefined;
          },
          { timeoutMs: 60_000, everyMs: 100 },
        ).catch((e: Error) => {
          throw new Error(`${e.message}\n${ctx()}`);
        });
        type Dep = { id: string; status: string; error: string | null; startedAt: string | null };
        const deployments = settled.deployments as Dep[];
        const current = settled.app.currentDeploymentId as string;
        expect(settled.app.status, ctx()).toBe('running');
        // The current release is the newest one that succeeded (the list is newest first), and one of this test's.
        expect(current, ctx()).toBe(deployments.find((d) => d.status === 'succeeded')?.id);
        expect(versionOf.has(current), ctx()).toBe(true);
        // Each of the round's deployments either succeeded or was cut off mid-rollout (`interrupted`); a queued one
        // is never lost: it runs once the restarted server is unsealed.
        const mine = deployments.find((d) => d.id === deploymentId)!;
        for (const id of ours) {
          const d = deployments.find((x) => x.id === id)!;
          if (d.status !== 'succeeded') expect(d, ctx()).toMatchObject({ status: 'failed', error: 'interrupted' });
        }
        if (mine.status === 'succeeded') expect(current, ctx()).toBe(deploymentId);

        // Where the kill landed, from what the deployment went through.
        const log: { at: string; text: string }[] = (await api('GET', `/apps/${appId}/deployments/${deploymentId}/logs`)).body?.lines ?? [];
        const saidBefore = (t: string) => log.some((l) => l.text.includes(t) && Date.parse(l.at) < killedAt);
        const phase =
          mine.startedAt === null || Date.parse(mine.startedAt) > killedAt ? 'queued'
          : mine.status === 'failed' ? 'deploying'
          : saidBefore('deployment succeeded;') ? 'after'
          : saidBefore('traffic switched') ? 'draining (switched)'
          : 'at the switch';

        // No container orphaned or missing: the app's containers are exactly the current deployment's, running.
        const containers = () => docker.listContainers({ [LABELS.app]: appId }, { all: true });
        await until(`round ${round}: the app's containers to be exactly its current deployment's`, async () => {
          const cs = await containers();
          return cs.length === 1 && cs.every((c) => c.labels[LABELS.deployment] === current && c.running);
        }, { timeoutMs: 20_000, everyMs: 100 }).catch(() => undefined);
        const cs = await containers();
        expect(cs.map((c) => ({ deployment: c.labels[LABELS.deployment], running: c.running })), ctx()).toEqual([{ deployment: current, running: true }]);

        // Served by exactly one version, the current deployment's.
        const bodies: string[] = [];
        for (let i = 0; i < 8; i++) {
          const r = await get(ingressPort, domain, '/', { timeoutMs: 2_000 });
          bodies.push(`${r.status} ${r.body.trim()}`);
          await sleep(25);
        }
        expect(bodies, ctx()).toEqual(Array(8).fill(`200 version=${versionOf.get(current)}`));

        rounds.push({ round, behindAnother, delayMs, phase, status: mine.status, error: mine.error, restartMs, outageMs: roundLongest });
        console.log(`[chaos] round ${round}: kill at +${delayMs} ms${behindAnother ? ' (queued behind another)' : ''} (${phase}) → ${mine.status}${mine.error ? ` (${mine.error})` : ''}; server back in ${restartMs} ms; serving ${versionOf.get(current)}`);
      }
    } finally {
      await sleep(200);
      stopPolling = true;
      await poller;
      console.log(`[chaos] seed ${seed}; ${rounds.length}/${ROUNDS} rounds done`);
      console.table(rounds);
      console.log(
        `[chaos] polls: ${poll.ok} ok, ${poll.failed} failed (${poll.failedWhileUp} while the server was up) in ${poll.outages} outages; ` +
          `longest outage ${poll.longestOutageMs} ms (server restarts: ${rounds.map((r) => r.restartMs).join(', ')} ms)`,
      );
      console.log(`[chaos] failures by kind: ${JSON.stringify(Object.fromEntries(poll.kinds))}`);
    }
    expect(rounds).toHaveLength(ROUNDS);
    // Outside the restarts themselves, the ingress never failed a request.
    expect(poll.failedWhileUp).toBe(0);
    expect(poll.ok).toBeGreaterThan(ROUNDS * 10);

    expect((await api('DELETE', `/apps/${appId}`)).status).toBe(200);
    expect(await docker.listContainers({ [LABELS.app]: appId }, { all: true })).toEqual([]);
  });
});
