// GitHub push-to-deploy against the in-memory engine: the signature check (GitHub's published test vector), the
// fixtures in shared/fixtures rewritten and signed, redelivery dedupe, coalescing, form deliveries, sealed, secret
// rotation, image pruning and the build semaphore. test/repo-deploy.docker.test.ts runs the flow on the real engine.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFakeDockerDriver, LABELS, type FakeDockerDriver } from '@cynchro/docker-driver';
import { parseSignatureHeader, signGithubPayload, verifyGithubSignature } from '../src/modules/webhooks/webhooks.service.js';
import { builtImageTag } from '../src/modules/runtime/names.js';
import { deliver, rewritten, sha, sign, type Delivery } from './github-webhooks.js';
import { settle as settleVia } from './wait.js';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';

/** KEEP_RELEASES' default: the images of this many succeeded releases of an app are kept. */
const KEEP_RELEASES = 5;

describe('the signature check', () => {
  const secret = "It's a Secret to Everybody";
  const vector = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

  it("accepts GitHub's published test vector", () => {
    expect(verifyGithubSignature(secret, Buffer.from('Hello, World!'), vector)).toBe(true);
    expect(verifyGithubSignature(secret, 'Hello, World!', vector.toUpperCase().replace('SHA256=', 'sha256='))).toBe(true);
    expect(signGithubPayload(secret, 'Hello, World!')).toBe(vector);
  });

  it('refuses a changed body, another secret, and malformed or missing headers', () => {
    expect(verifyGithubSignature(secret, 'Hello, World?', vector)).toBe(false);
    expect(verifyGithubSignature('another secret', 'Hello, World!', vector)).toBe(false);
    for (const bad of [undefined, '', 'sha256=', vector.slice(0, -2), `${vector}00`, vector.replace('sha256=', 'sha1='), vector.replace('sha256=', ''), `sha256=${'z'.repeat(64)}`, [vector, vector]]) {
      expect(parseSignatureHeader(bad), String(bad)).toBeNull();
      expect(verifyGithubSignature(secret, 'Hello, World!', bad), String(bad)).toBe(false);
    }
  });
});

describe('POST /webhooks/github/:appId', () => {
  let h: Harness;
  let docker: FakeDockerDriver;
  const { call, register, operator, unseal } = client(() => h);
  let alice: TestUser;
  let bob: TestUser;
  let op: TestUser;
  const masterKey = newMasterKey();
  const suffix = process.pid % 1000;
  let n = 0;
  const name = (p = 'hook') => `${p}-${++n}-${suffix}`;
  const BRANCH = 'release/prod';
  const REF = `refs/heads/${BRANCH}`;

  let appId: string;
  let secret: string;

  const settle = (id: string, deploymentId: string, token = alice.accessToken) => settleVia(call, id, deploymentId, token);

  const webhookDeployments = (id: string) => h.deps.db.selectFrom('deployments').selectAll().where('app_id', '=', id).where('trigger', '=', 'webhook').orderBy('created_at').execute();
  const allDeployments = (id: string) => h.deps.db.selectFrom('deployments').select('id').where('app_id', '=', id).execute();
  /** A push as GitHub sends it once the branch has moved: from now on the remote's head (the fake's) is `after`. */
  const push = (after: string, fields: Record<string, unknown> = {}) => {
    docker.setHeadCommit(after);
    return rewritten('github-push-new-branch', { ref: REF, before: sha(`before-${after}`), after, ...fields });
  };
  const send = (id: string, d: Delivery) => deliver(h.app, id, d);

  async function repoApp(env: Record<string, string> = {}) {
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name(), repo: 'https://github.com/acme/api', branch: BRANCH, port: 8080, env } });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    await settle(r.body.appId, r.body.deploymentId);
    return { appId: r.body.appId as string, secret: r.body.webhook.secret as string, name: `hook-${n}-${suffix}` };
  }

  /** Runs `fn` with the worker stopped, so what it queues stays queued; the worker starts again after. */
  async function withWorkerPaused<T>(fn: () => Promise<T>): Promise<T> {
    await h.worker.idle();
    await h.worker.stop();
    try {
      return await fn();
    } finally {
      await h.worker.start();
    }
  }

  beforeAll(async () => {
    docker = createFakeDockerDriver();
    // The per-app delivery limit has its own suite below; this one sends far more than 30 a minute to one app.
    h = await startHarness({ ...ADMIN_ENV, QUOTA_MAX_APPS: '100', ROOT_DOMAIN: 'apps.test', PUBLIC_API_URL: 'https://api.example.test', WEBHOOK_RATE_LIMIT: '100000' }, { docker });
    alice = await register();
    bob = await register();
    op = await operator();
    await unseal(op, masterKey);
    ({ appId, secret } = await repoApp({ GREETING: 'hi' }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('GET /apps/:id shows the webhook block for the repo app', async () => {
    const r = await call('GET', `/apps/${appId}`, { token: alice.accessToken });
    expect(r.body.webhook).toEqual({ url: `https://api.example.test/webhooks/github/${appId}`, secret, contentType: 'application/json', events: ['push'] });
  });

  it('ping → 200 and nothing queued', async () => {
    const before = (await allDeployments(appId)).length;
    const r = await send(appId, { event: 'ping', body: rewritten('github-ping'), secret });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, event: 'ping', queued: false });
    expect((await allDeployments(appId)).length).toBe(before);
  });

  let firstDelivery: string;
  let firstDeployment: string;
  const c1 = sha('commit-1');

  it('push to the configured branch → one deployment of `after` (trigger webhook), answered fast, using the current spec', async () => {
    // The stored spec changes first: the webhook deployment must roll out this env, not the one from creation.
    const re = await call('POST', '/deploy', { token: alice.accessToken, body: { name: `hook-1-${suffix}`, repo: 'https://github.com/acme/api', branch: BRANCH, port: 8080, env: { GREETING: 'hello' } } });
    expect(re.status).toBe(202);
    expect(re.body.appId).toBe(appId);
    expect(re.body.webhook.secret).toBe(secret);
    await settle(appId, re.body.deploymentId);

    firstDelivery = crypto.randomUUID();
    const r = await send(appId, { event: 'push', body: push(c1), secret, delivery: firstDelivery });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ ok: true, event: 'push', queued: true, outcome: 'queued', commitSha: c1 });
    expect(r.ms).toBeLessThan(1000);
    firstDeployment = r.body.deploymentId;

    const rows = await webhookDeployments(appId);
    expect(rows.map((d) => [d.id, d.commit_sha, d.trigger])).toEqual([[firstDeployment, c1, 'webhook']]);
    const stored = await h.deps.db.selectFrom('apps').select('spec').where('id', '=', appId).executeTakeFirstOrThrow();
    expect(rows[0]!.spec).toBe(stored.spec);

    const { deployment, app } = await settle(appId, firstDeployment);
    expect(deployment).toMatchObject({ status: 'succeeded', trigger: 'webhook', commitSha: c1 });
    expect(app.currentDeploymentId).toBe(firstDeployment);
    expect(docker.lastGitBuild()).toMatchObject({ repoUrl: 'https://github.com/acme/api', branch: BRANCH, commit: c1 });
    const [container] = await docker.listContainers({ [LABELS.app]: appId, [LABELS.deployment]: firstDeployment });
    expect((await docker.containerSpec(container!.id))?.env).toMatchObject({ GREETING: 'hello' });
  });

  it('the same X-GitHub-Delivery again → 200 with the original deployment, nothing new queued', async () => {
    const before = (await allDeployments(appId)).length;
    const r = await send(appId, { event: 'push', body: push(c1), secret, delivery: firstDelivery });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ queued: true, outcome: 'duplicate', deploymentId: firstDeployment });
    expect((await allDeployments(appId)).length).toBe(before);
  });

  it('the same commit twice under different delivery ids coalesces into the queued deployment; a redelivery of either stays one', async () => {
    const c2 = sha('commit-2');
    const [a, b, again] = await withWorkerPaused(async () => {
      const a = await send(appId, { event: 'push', body: push(c2), secret });
      const b = await send(appId, { event: 'push', body: push(c2), secret });
      const again = await send(appId, { event: 'push', body: push(c2), secret, delivery: 'fixed-delivery-id' });
      return [a, b, again];
    });
    expect(a.body).toMatchObject({ queued: true, outcome: 'queued' });
    expect(b.body).toMatchObject({ queued: true, outcome: 'coalesced', deploymentId: a.body.deploymentId });
    expect(again.body).toMatchObject({ outcome: 'coalesced', deploymentId: a.body.deploymentId });
    expect((await webhookDeployments(appId)).filter((d) => d.commit_sha === c2)).toHaveLength(1);
    const { deployment } = await settle(appId, a.body.deploymentId);
    expect(deployment).toMatchObject({ status: 'succeeded', commitSha: c2 });
    const dup = await send(appId, { event: 'push', body: push(c2), secret, delivery: 'fixed-delivery-id' });
    expect(dup.body).toMatchObject({ outcome: 'duplicate', deploymentId: a.body.deploymentId });
    // Once it has run, the same commit pushed anew (another delivery) is a new deployment.
    const fresh = await send(appId, { event: 'push', body: push(c2), secret });
    expect(fresh.body).toMatchObject({ outcome: 'queued' });
    expect(fresh.body.deploymentId).not.toBe(a.body.deploymentId);
    await settle(appId, fresh.body.deploymentId);
  });

  it('concurrent deliveries of one delivery id queue one deployment', async () => {
    const c = sha('concurrent');
    const replies = await withWorkerPaused(() => Promise.all(Array.from({ length: 5 }, () => send(appId, { event: 'push', body: push(c), secret, delivery: 'same-id-5x' }))));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(replies.map((r) => r.body.deploymentId)).size).toBe(1);
    expect((await webhookDeployments(appId)).filter((d) => d.commit_sha === c)).toHaveLength(1);
    await settle(appId, replies[0]!.body.deploymentId);
  });

  describe('replays: a push builds its `after` only while it is the branch head', () => {
    it('a captured delivery replayed with a new delivery id after the branch moved → 200 stale_push, nothing queued', async () => {
      const old = sha('replay-old');
      const captured = push(old);
      const first = await send(appId, { event: 'push', body: captured, secret });
      expect(first.body).toMatchObject({ queued: true, outcome: 'queued', commitSha: old });
      await settle(appId, first.body.deploymentId);
      // A newer commit lands on the branch (its own delivery may come or not).
      docker.setHeadCommit(sha('replay-new'));
      const before = (await allDeployments(appId)).length;
      const calls = docker.calls.filter((c) => c.method === 'remoteHead').length;
      const replay = await send(appId, { event: 'push', body: captured, secret, delivery: crypto.randomUUID() });
      expect(replay.status, JSON.stringify(replay.body)).toBe(200);
      expect(replay.body).toEqual({ ok: true, event: 'push', queued: false, commitSha: old, reason: 'stale_push' });
      expect((await allDeployments(appId)).length).toBe(before);
      // The remote was asked about the app's repository and branch.
      const asked = docker.calls.filter((c) => c.method === 'remoteHead');
      expect(asked.length).toBe(calls + 1);
      expect(asked.at(-1)!.args[0]).toMatchObject({ repoUrl: 'https://github.com/acme/api', branch: BRANCH });
    });

    it('a redelivery (same delivery id) still answers its original deployment after the branch moved, without asking the remote', async () => {
      const c = sha('redeliver');
      const delivery = crypto.randomUUID();
      const body = push(c);
      const first = await send(appId, { event: 'push', body, secret, delivery });
      expect(first.body.outcome).toBe('queued');
      await settle(appId, first.body.deploymentId);
      docker.setHeadCommit(sha('redeliver-newer'));
      const calls = docker.calls.filter((c) => c.method === 'remoteHead').length;
      const again = await send(appId, { event: 'push', body, secret, delivery });
      expect(again.body).toMatchObject({ queued: true, outcome: 'duplicate', deploymentId: first.body.deploymentId });
      expect(docker.calls.filter((c) => c.method === 'remoteHead').length).toBe(calls);
    });

    it('a branch deleted on the remote → stale_push', async () => {
      const spy = vi.spyOn(docker, 'remoteHead').mockResolvedValueOnce(null);
      try {
        const before = (await allDeployments(appId)).length;
        const r = await send(appId, { event: 'push', body: push(sha('gone')), secret });
        expect(r.body).toMatchObject({ queued: false, reason: 'stale_push' });
        expect((await allDeployments(appId)).length).toBe(before);
      } finally {
        spy.mockRestore();
      }
    });

    it('when the remote cannot be asked → 503 unavailable and nothing queued; the redelivery then builds', async () => {
      const c = sha('unreachable');
      const delivery = crypto.randomUUID();
      const body = push(c);
      const before = (await allDeployments(appId)).length;
      docker.failRemoteHead('unable to access the repository');
      try {
        const r = await send(appId, { event: 'push', body, secret, delivery });
        expect(r.status).toBe(503);
        expect(r.body.error).toBe('unavailable');
        expect(r.body.message).toMatch(/nothing was queued/);
        expect((await allDeployments(appId)).length).toBe(before);
      } finally {
        docker.failRemoteHead(null);
      }
      const again = await send(appId, { event: 'push', body, secret, delivery });
      expect(again.body).toMatchObject({ queued: true, outcome: 'queued', commitSha: c });
      await settle(appId, again.body.deploymentId);
    });

    it("asks with the app's repo token (decrypted from the vault) and GIT_ALLOW_HOSTS", async () => {
      const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('tok'), repo: 'https://github.com/acme/private', branch: BRANCH, port: 8080, repoToken: 'ghp_webhook-token' } });
      expect(r.status).toBe(202);
      await settle(r.body.appId, r.body.deploymentId);
      const spy = vi.spyOn(docker, 'remoteHead');
      try {
        const res = await send(r.body.appId, { event: 'push', body: push(sha('tok')), secret: r.body.webhook.secret });
        expect(res.body).toMatchObject({ queued: true, outcome: 'queued' });
        expect(spy).toHaveBeenCalledTimes(1);
        expect(spy.mock.calls[0]![0]).toMatchObject({ repoUrl: 'https://github.com/acme/private', branch: BRANCH, token: 'ghp_webhook-token', allowHosts: h.config.gitAllowHosts });
        await settle(r.body.appId, res.body.deploymentId);
      } finally {
        spy.mockRestore();
      }
    });
  });

  it('a newer commit supersedes a still-queued older one', async () => {
    const [older, newer] = await withWorkerPaused(async () => [await send(appId, { event: 'push', body: push(sha('old')), secret }), await send(appId, { event: 'push', body: push(sha('new')), secret })]);
    expect((await settle(appId, older.body.deploymentId)).deployment).toMatchObject({ status: 'canceled', error: 'superseded by a newer deployment' });
    expect((await settle(appId, newer.body.deploymentId)).deployment).toMatchObject({ status: 'succeeded', commitSha: sha('new') });
  });

  describe('deliveries that queue nothing answer 200 and say why', () => {
    const cases: [string, () => Delivery, RegExp][] = [
      ['a tag deletion (the fixture as is)', () => ({ event: 'push', body: rewritten('github-push-tag-deleted') }), /deleted/],
      ['a tag push', () => ({ event: 'push', body: rewritten('github-push-tag-deleted', { ref: 'refs/tags/v1.0.0', deleted: false, created: true, after: sha('tag') }) }), /tag/],
      ['a push to another branch', () => ({ event: 'push', body: push(sha('other'), { ref: 'refs/heads/feature/x' }) }), /refs\/heads\/feature\/x/],
      ['a push to a branch whose name only starts like ours', () => ({ event: 'push', body: push(sha('other2'), { ref: `${REF}-2` }) }), /not|deploys/],
      ['a deletion of the configured branch', () => ({ event: 'push', body: push('0'.repeat(40), { deleted: true, created: false }) }), /deleted/],
      ['another event', () => ({ event: 'issues', body: JSON.stringify({ action: 'opened' }) }), /issues/],
    ];
    for (const [what, make, reason] of cases) {
      it(what, async () => {
        const before = (await allDeployments(appId)).length;
        const r = await send(appId, { ...make(), secret });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(r.body).toMatchObject({ ok: true, queued: false });
        expect(r.body.reason).toMatch(reason);
        expect((await allDeployments(appId)).length).toBe(before);
      });
    }
  });

  describe('unverified deliveries → 401 invalid_signature and nothing happens', () => {
    const body = () => push(sha('unsigned'));
    const cases: [string, () => { id: string; d: Delivery }][] = [
      ['a wrong signature (another secret)', () => ({ id: appId, d: { event: 'push', body: body(), secret: 'not-the-secret' } })],
      ['no signature header', () => ({ id: appId, d: { event: 'push', body: body(), signature: null } })],
      ['a malformed header (sha1=)', () => ({ id: appId, d: { event: 'push', body: body(), signature: sign(secret, body()).replace('sha256=', 'sha1=') } })],
      ['a malformed header (short hex)', () => ({ id: appId, d: { event: 'push', body: body(), signature: sign(secret, body()).slice(0, 40) } })],
      ['a body changed after signing', () => ({ id: appId, d: { event: 'push', body: body().replace(REF, 'refs/heads/x'), signature: sign(secret, body()) } })],
      ['a ping with a wrong signature', () => ({ id: appId, d: { event: 'ping', body: rewritten('github-ping'), secret: 'nope' } })],
      ['an unknown app id (signed with a real secret)', () => ({ id: 'app_doesnotexist000', d: { event: 'push', body: body(), secret } })],
      ['an unknown app id, unsigned', () => ({ id: 'app_doesnotexist000', d: { event: 'push', body: body(), signature: null } })],
      ['an unsupported content type, unsigned (the signature is checked first)', () => ({ id: appId, d: { event: 'push', body: 'x', contentType: 'text/plain', signature: null } })],
    ];
    let reference: unknown;
    for (const [what, make] of cases) {
      it(what, async () => {
        const before = await h.deps.db.selectFrom('deployments').select('id').execute();
        const { id, d } = make();
        const r = await send(id, d);
        expect(r.status).toBe(401);
        expect(r.body.error).toBe('invalid_signature');
        // An unknown app is indistinguishable from a bad signature: same status, same body.
        reference ??= r.body;
        expect(r.body).toEqual(reference);
        expect((await h.deps.db.selectFrom('deployments').select('id').execute()).length).toBe(before.length);
      });
    }
  });

  it('a form-urlencoded delivery (payload=…) is accepted, the signature over the raw form bytes', async () => {
    const c = sha('form');
    const form = `payload=${encodeURIComponent(push(c))}`;
    const r = await send(appId, { event: 'push', body: form, secret, contentType: 'application/x-www-form-urlencoded' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ queued: true, outcome: 'queued', commitSha: c });
    expect((await settle(appId, r.body.deploymentId)).deployment).toMatchObject({ status: 'succeeded', commitSha: c, trigger: 'webhook' });
    // Signed over the decoded JSON instead of the bytes sent: refused.
    const wrong = await send(appId, { event: 'push', body: form, signature: sign(secret, push(c)), contentType: 'application/x-www-form-urlencoded' });
    expect(wrong.status).toBe(401);
  });

  it('verified but unusable bodies: malformed JSON → 400 validation, another content type → 415, a bad `after` → 400', async () => {
    const bad = await send(appId, { event: 'push', body: '{"ref":', secret });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('validation');
    const form = await send(appId, { event: 'push', body: 'nopayload=1', secret, contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(400);
    const text = await send(appId, { event: 'push', body: push(sha('t')), secret, contentType: 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.body.error).toBe('unsupported_media_type');
    const after = await send(appId, { event: 'push', body: push('main'), secret });
    expect(after.status).toBe(400);
  });

  it('other routes keep their JSON parsing', async () => {
    const r = await call('GET', '/apps', { token: alice.accessToken });
    expect(r.status).toBe(200);
    const bad = await h.app.inject({ method: 'POST', url: '/deploy', payload: '{"name":', headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.accessToken}` } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toBe('validation');
  });

  it('image apps: a verified push is ignored (200); one that never had a secret cannot verify anything (401)', async () => {
    // A repo app redeployed from an image keeps its webhook secret.
    const switched = await repoApp();
    const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name: switched.name, image: 'acme/web:1', port: 8080 } });
    expect(r.status).toBe(202);
    await settle(switched.appId, r.body.deploymentId);
    const before = (await allDeployments(switched.appId)).length;
    const ignored = await send(switched.appId, { event: 'push', body: push(sha('img')), secret: switched.secret });
    expect(ignored.status).toBe(200);
    expect(ignored.body).toMatchObject({ queued: false, reason: 'the app is not built from a repository' });
    expect((await allDeployments(switched.appId)).length).toBe(before);

    const img = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('img'), image: 'acme/web:1' } });
    expect(img.body.webhook).toBeUndefined();
    const refused = await send(img.body.appId, { event: 'push', body: push(sha('img2')), secret: 'guess' });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_signature');
  });

  describe('secret rotation', () => {
    it('POST /apps/:id/webhook/rotate returns the new webhook block; the old secret stops working at once', async () => {
      const r = await call('POST', `/apps/${appId}/webhook/rotate`, { token: alice.accessToken });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body).toMatchObject({ url: `https://api.example.test/webhooks/github/${appId}`, contentType: 'application/json', events: ['push'] });
      expect(r.body.secret).toMatch(/^[0-9a-f]{64}$/);
      expect(r.body.secret).not.toBe(secret);
      const old = await send(appId, { event: 'ping', body: rewritten('github-ping'), secret });
      expect(old.status).toBe(401);
      const fresh = await send(appId, { event: 'ping', body: rewritten('github-ping'), secret: r.body.secret });
      expect(fresh.status).toBe(200);
      expect((await call('GET', `/apps/${appId}`, { token: alice.accessToken })).body.webhook.secret).toBe(r.body.secret);
      const stored = await h.deps.db.selectFrom('apps').select('webhook_secret').where('id', '=', appId).executeTakeFirstOrThrow();
      expect(stored.webhook_secret).not.toContain(r.body.secret);
      secret = r.body.secret;
    });

    it("another org's app is app_not_found; no token is missing_bearer_token; an image app has no webhook to rotate", async () => {
      const other = await call('POST', `/apps/${appId}/webhook/rotate`, { token: bob.accessToken });
      expect(other.status).toBe(404);
      expect(other.body.error).toBe('app_not_found');
      expect((await send(appId, { event: 'ping', body: rewritten('github-ping'), secret })).status).toBe(200);
      const anon = await call('POST', `/apps/${appId}/webhook/rotate`);
      expect(anon.status).toBe(401);
      expect(anon.body.error).toBe('missing_bearer_token');
      const img = await call('POST', '/deploy', { token: alice.accessToken, body: { name: name('img'), image: 'acme/web:1' } });
      const conflict = await call('POST', `/apps/${img.body.appId}/webhook/rotate`, { token: alice.accessToken });
      expect(conflict.status).toBe(409);
      expect(conflict.body.error).toBe('conflict');
    });

    it('is also reachable over /trpc (what the SDK calls)', async () => {
      const res = await h.app.inject({ method: 'POST', url: '/trpc/apps.rotateWebhook', payload: { json: { id: appId } }, headers: { authorization: `Bearer ${alice.accessToken}` } });
      expect(res.statusCode).toBe(200);
      secret = res.json().result.data.json.secret;
      expect((await send(appId, { event: 'ping', body: rewritten('github-ping'), secret })).status).toBe(200);
    });
  });

  it('while sealed: 503 sealed for known and unknown apps alike, nothing queued; rotate is 503 too', async () => {
    expect((await call('POST', '/admin/seal', { token: op.accessToken })).status).toBe(200);
    try {
      const before = (await h.deps.db.selectFrom('deployments').select('id').execute()).length;
      for (const id of [appId, 'app_doesnotexist000']) {
        const r = await send(id, { event: 'push', body: push(sha('sealed')), secret });
        expect(r.status).toBe(503);
        expect(r.body.error).toBe('sealed');
      }
      const rot = await call('POST', `/apps/${appId}/webhook/rotate`, { token: alice.accessToken });
      expect(rot.status).toBe(503);
      expect(rot.body.error).toBe('sealed');
      expect((await h.deps.db.selectFrom('deployments').select('id').execute()).length).toBe(before);
    } finally {
      expect((await unseal(op, masterKey)).status).toBe(200);
    }
    expect((await send(appId, { event: 'ping', body: rewritten('github-ping'), secret })).status).toBe(200);
  });

  it(`after each successful deployment, built images of all but the last ${KEEP_RELEASES} succeeded releases are pruned (never the current one)`, async () => {
    const app = await repoApp();
    const ids: string[] = [];
    for (let i = 0; i < KEEP_RELEASES + 2; i++) {
      const r = await send(app.appId, { event: 'push', body: push(sha(`prune-${i}`)), secret: app.secret });
      expect(r.body.outcome).toBe('queued');
      await settle(app.appId, r.body.deploymentId);
      ids.push(r.body.deploymentId);
    }
    const images = await docker.listImages({ [LABELS.app]: app.appId });
    expect(images).toHaveLength(KEEP_RELEASES);
    const tags = images.flatMap((i) => i.tags);
    for (const id of ids.slice(-KEEP_RELEASES)) expect(tags).toContain(builtImageTag(app.appId, id, 'app'));
    const pruned = docker.calls.filter((c) => c.method === 'pruneImages' && (c.args[0] as Record<string, string>)[LABELS.app] === app.appId);
    expect(pruned.length).toBeGreaterThanOrEqual(KEEP_RELEASES + 2);
    // The kept releases' images are protected by the ids they run by, the current one's included.
    const current = images.find((i) => i.tags.includes(builtImageTag(app.appId, ids.at(-1)!, 'app')))!;
    expect(pruned.at(-1)!.args[2]).toContain(current.id);
    expect(new Set(pruned.at(-1)!.args[2] as string[])).toEqual(new Set(images.map((i) => i.id)));
    const [running] = await docker.listContainers({ [LABELS.app]: app.appId });
    expect(running!.image).toBe(current.id);
  });

  it('/openapi.json documents the webhook route with 200, 401 and 503, and the rotate operation', async () => {
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    const op = doc.paths['/webhooks/github/{appId}'].post;
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '401', '503']));
    expect(op.responses['401'].description).toContain('`invalid_signature`');
    expect(op.responses['503'].description).toContain('`sealed`');
    expect(Object.keys(op.requestBody.content)).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    expect(op.parameters.map((p: { name: string }) => p.name)).toContain('X-Hub-Signature-256');
    expect(doc.paths['/apps/{id}/webhook/rotate'].post.responses['200'].content['application/json'].schema).toBeDefined();
  });
});

describe('deliveries are rate-limited per app', () => {
  let h: Harness;
  const { call, register, operator, unseal } = client(() => h);
  const ping = (id: string, secret: string) => deliver(h.app, id, { event: 'ping', body: rewritten('github-ping'), secret });

  beforeAll(async () => {
    h = await startHarness({ ...ADMIN_ENV, ROOT_DOMAIN: 'apps.test' });
    const op = await operator();
    await unseal(op, newMasterKey());
  });
  afterAll(async () => {
    await h?.close();
  });

  async function repoApp(user: TestUser, appName: string) {
    const r = await call('POST', '/deploy', { token: user.accessToken, body: { name: appName, repo: 'https://github.com/acme/api', port: 8080 } });
    expect(r.status).toBe(202);
    return { appId: r.body.appId as string, secret: r.body.webhook.secret as string };
  }

  it('30 verified deliveries a minute per app, then 429 rate_limited with Retry-After; other apps and unsigned requests do not count', async () => {
    const carol = await register();
    const a = await repoApp(carol, 'limited-a');
    const b = await repoApp(carol, 'limited-b');
    // Unverified requests take no share of the app's allowance (they cannot be told apart from noise).
    for (let i = 0; i < 40; i++) expect((await ping(a.appId, 'wrong-secret')).status).toBe(401);
    for (let i = 0; i < 30; i++) expect((await ping(a.appId, a.secret)).status, `delivery ${i + 1}`).toBe(200);
    const over = await ping(a.appId, a.secret);
    expect(over.status).toBe(429);
    expect(over.body.error).toBe('rate_limited');
    const retryAfter = Number(over.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // A push is refused the same way before anything is parsed or the remote is asked.
    const push = await deliver(h.app, a.appId, { event: 'push', body: rewritten('github-push-new-branch', { ref: 'refs/heads/main', after: sha('limited') }), secret: a.secret });
    expect(push.status).toBe(429);
    expect((await ping(b.appId, b.secret)).status).toBe(200);
    // A minute later the app is served again.
    h.clock.advance(61_000);
    expect((await ping(a.appId, a.secret)).status).toBe(200);
  });
});