// CONTRACT.md "Audit log": GET /audit (owners and admins) pages an org's trail newest first; every action leaves one
// record with its actor (user, email, API token), target (type, id, name: kept after the target is gone), outcome
// (ok, denied, failed) and client IP; no secret value ever appears. Operators' vault actions are in GET /admin/audit
// only. Every call here comes from its own client address (inject's `remoteAddress`) so the record's `ip` is checked.
import { randomBytes } from 'node:crypto';
import { createFakeDockerDriver, type FakeDockerDriver } from '@cynchro/docker-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryHeaders, rewritten, sha } from './github-webhooks.js';
import { startHarness, uniqueEmail, type Harness } from './harness.js';
import { teams, type Team } from './teams-helpers.js';
import { ADMIN_ENV, newMasterKey, type Reply, type TestUser } from './vault-helpers.js';
import { settle, until } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const { register, operator, operatorToken, unseal, join, team, deployApp, apiToken } = teams(() => h);
const masterKey = newMasterKey();

let T: Team;
let op: TestUser;
const suffix = process.pid % 1000;
let n = 0;
const name = (tag: string) => `au-${tag}-${++n}-${suffix}`;

/** Everything secret this file handles (the master key, every user's password, …): none of it may ever appear in the audit trail. */
const secrets: string[] = [masterKey, 'correct horse battery'];

let ipSeq = 0;
/** A fresh client address per call (IPv4, every 7th an IPv6 one), so each record's `ip` is recognisably its call's. */
const nextIp = () => (++ipSeq % 7 === 0 ? `2001:db8:a0d1::${ipSeq.toString(16)}` : `198.51.${100 + Math.floor(ipSeq / 250)}.${(ipSeq % 250) + 1}`);

interface Sent extends Reply {
  ip: string;
}

/** A REST call from its own client address; answers the reply and that address. */
async function send(method: string, url: string, opts: { token?: string; body?: unknown } = {}): Promise<Sent> {
  const ip = nextIp();
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await h.app.inject({ method: method as 'GET', url, payload: opts.body as object, headers, remoteAddress: ip });
  return { status: res.statusCode, body: res.body ? res.json() : undefined, raw: res.body, ip };
}

const as = (u: TestUser | string) => (typeof u === 'string' ? u : u.accessToken);

interface AuditEvent {
  id: string;
  at: string;
  actor: { userId: string | null; email: string | null; tokenId: string | null };
  action: string;
  target: { type: string | null; id: string | null; name: string | null };
  outcome: 'ok' | 'denied' | 'failed';
  ip: string | null;
  detail?: string | null;
}

/** Every event of the trail `url` (/audit or /admin/audit) as `who` sees it, following nextCursor to the end. */
async function allEvents(who: TestUser | string, url = '/audit', limit = 100): Promise<{ events: AuditEvent[]; raw: string }> {
  const events: AuditEvent[] = [];
  let raw = '';
  let before: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const r = await send('GET', `${url}?limit=${limit}${before ? `&before=${before}` : ''}`, { token: as(who) });
    expect(r.status, `GET ${url} ${r.raw}`).toBe(200);
    events.push(...r.body.events);
    raw += r.raw;
    before = r.body.nextCursor;
    if (before === null) return { events, raw };
  }
  throw new Error('nextCursor never ended');
}

/** The newest event of the team's trail (read by its owner) that matches. */
async function newest(pred: (e: AuditEvent) => boolean, who: TestUser = T.members.owner, url = '/audit'): Promise<AuditEvent> {
  const { events } = await allEvents(who, url);
  const e = events.find(pred);
  expect(e, `no matching event in ${url}: ${JSON.stringify(events.slice(0, 10))}`).toBeDefined();
  return e!;
}

const actorOf = (u: TestUser, tokenId: string | null = null) => ({ userId: u.userId, email: u.email, tokenId });

async function repoApp(by: TestUser): Promise<{ id: string; name: string; secret: string }> {
  const appName = name('repo');
  const r = await send('POST', '/deploy', { token: by.accessToken, body: { name: appName, repo: 'https://github.com/acme/api', branch: 'main', port: 8080 } });
  expect(r.status, r.raw).toBe(202);
  expect((await settle(send, r.body.appId, r.body.deploymentId, by.accessToken)).deployment.status).toBe('succeeded');
  secrets.push(r.body.webhook.secret);
  return { id: r.body.appId, name: appName, secret: r.body.webhook.secret };
}

beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness({ ...ADMIN_ENV, QUOTA_MAX_APPS: '100' }, { docker });
  op = await operator();
  expect((await unseal(op, masterKey)).body.outcome).toBe('initialized');
  secrets.push(operatorToken());
  T = await team('audited');
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('GET /audit: who may read it', () => {
  it('owners and admins read it (a session, or an org-wide API token with read); developers, viewers and app-scoped tokens get 403 forbidden', async () => {
    for (const role of ['owner', 'admin'] as const) {
      const r = await send('GET', '/audit', { token: T.members[role].accessToken });
      expect(r.status, `${role} GET /audit ${r.raw}`).toBe(200);
      expect(r.body).toEqual({ events: expect.any(Array), nextCursor: expect.toBeOneOf([null, expect.any(String)]) });
    }
    for (const role of ['developer', 'viewer'] as const) {
      const r = await send('GET', '/audit', { token: T.members[role].accessToken });
      expect(r.status, `${role} GET /audit ${r.raw}`).toBe(403);
      expect(r.body.error).toBe('forbidden');
    }
    const read = await apiToken(T.members.owner, { name: 'audit-reader', scopes: ['read'] });
    secrets.push(read.secret);
    const viaToken = await send('GET', '/audit', { token: read.secret });
    expect(viaToken.status, viaToken.raw).toBe(200);
    const appId = await deployApp(T.members.owner, name('scoped'));
    const scoped = await apiToken(T.members.owner, { name: 'audit-scoped', scopes: ['read'], appId });
    secrets.push(scoped.secret);
    const viaScoped = await send('GET', '/audit', { token: scoped.secret });
    expect(viaScoped.status, viaScoped.raw).toBe(403);
    expect(viaScoped.body.error).toBe('forbidden');
  });

  it("an org's trail is its own: the outsider's /audit shows none of the team's events", async () => {
    const mine = await allEvents(T.outsider);
    expect(mine.events.filter((e) => e.actor.userId !== T.outsider.userId)).toEqual([]);
    expect(mine.raw).not.toContain(T.orgId);
  });
});

describe('GET /audit: paging', () => {
  let u: TestUser;
  const created: string[] = [];

  beforeAll(async () => {
    // A fresh personal org: its trail holds exactly the five secrets set here.
    u = await register(uniqueEmail('pager'));
    for (let i = 1; i <= 5; i++) {
      const r = await send('POST', '/secrets', { token: u.accessToken, body: { name: `page-${i}`, data: { K: 'v' } } });
      expect(r.status, r.raw).toBe(200);
      created.push(`page-${i}`);
    }
  });

  it('newest first: ids and times never increase down the list', async () => {
    const { events } = await allEvents(u);
    expect(events.map((e) => e.target.name)).toEqual([...created].reverse());
    expect(events.every((e) => e.action === 'secret.set' && e.outcome === 'ok')).toBe(true);
    for (let i = 1; i < events.length; i++) {
      expect(Number(events[i]!.id)).toBeLessThan(Number(events[i - 1]!.id));
      expect(events[i]!.at <= events[i - 1]!.at).toBe(true);
    }
    // The team's trail, too (it holds many kinds of events by now).
    const team = await allEvents(T.members.owner);
    for (let i = 1; i < team.events.length; i++) expect(Number(team.events[i]!.id)).toBeLessThan(Number(team.events[i - 1]!.id));
  });

  it('`limit` pages and `before` = nextCursor continues without overlap or gap; nextCursor is null at the end', async () => {
    const everything = (await allEvents(u)).events.map((e) => e.id);
    expect(everything).toHaveLength(5);
    const p1 = await send('GET', '/audit?limit=2', { token: u.accessToken });
    expect(p1.status, p1.raw).toBe(200);
    expect(p1.body.events.map((e: AuditEvent) => e.id)).toEqual(everything.slice(0, 2));
    expect(p1.body.nextCursor).toEqual(expect.any(String));
    const p2 = await send('GET', `/audit?limit=2&before=${p1.body.nextCursor}`, { token: u.accessToken });
    expect(p2.body.events.map((e: AuditEvent) => e.id)).toEqual(everything.slice(2, 4));
    const p3 = await send('GET', `/audit?limit=2&before=${p2.body.nextCursor}`, { token: u.accessToken });
    expect(p3.body.events.map((e: AuditEvent) => e.id)).toEqual(everything.slice(4));
    expect(p3.body.nextCursor).toBeNull();
    // One page that holds exactly everything ends there too; limit 1 walks it one by one.
    const exact = await send('GET', '/audit?limit=5', { token: u.accessToken });
    expect(exact.body.events.map((e: AuditEvent) => e.id)).toEqual(everything);
    expect(exact.body.nextCursor).toBeNull();
    expect((await allEvents(u, '/audit', 1)).events.map((e) => e.id)).toEqual(everything);
    const max = await send('GET', '/audit?limit=100', { token: u.accessToken });
    expect(max.status, max.raw).toBe(200);
    expect(max.body.nextCursor).toBeNull();
  });

  it('limit outside 1–100 or a cursor that is no nextCursor → 400 validation', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=-1', 'limit=1.5', 'limit=x', 'before=abc', 'before=0', 'before=-5', 'before=1e3', 'before=12abc', `before=${'9'.repeat(40)}`]) {
      const r = await send('GET', `/audit?${q}`, { token: u.accessToken });
      expect(r.status, `GET /audit?${q} ${r.raw}`).toBe(400);
      expect(r.body.error, `GET /audit?${q}`).toBe('validation');
    }
  });
});

describe('the trail of each action', () => {
  it('deploy: a session; and with a deploy API token, the actor carries the tokenId', async () => {
    const dev = T.members.developer;
    const appName = name('deploy');
    const r = await send('POST', '/deploy', { token: dev.accessToken, body: { name: appName, image: 'acme/web:1', port: 8080 } });
    expect(r.status, r.raw).toBe(202);
    const e = await newest((x) => x.action === 'deploy' && x.target.id === r.body.appId);
    expect(e).toMatchObject({ actor: actorOf(dev), action: 'deploy', target: { type: 'app', id: r.body.appId, name: appName }, outcome: 'ok', ip: r.ip });
    expect(e.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    await settle(send, r.body.appId, r.body.deploymentId, dev.accessToken);

    const ci = await apiToken(dev, { name: 'ci-deploy', scopes: ['deploy'] });
    secrets.push(ci.secret);
    const viaToken = await send('POST', '/deploy', { token: ci.secret, body: { name: appName, image: 'acme/web:2', port: 8080 } });
    expect(viaToken.status, viaToken.raw).toBe(202);
    const t = await newest((x) => x.action === 'deploy' && x.actor.tokenId !== null && x.target.id === r.body.appId);
    expect(t).toMatchObject({ actor: actorOf(dev, ci.token.id), target: { type: 'app', id: r.body.appId, name: appName }, outcome: 'ok', ip: viaToken.ip });
    await settle(send, r.body.appId, viaToken.body.deploymentId, dev.accessToken);
  });

  it('app.restart and app.stop', async () => {
    const admin = T.members.admin;
    const appName = name('actions');
    const appId = await deployApp(admin, appName);
    const re = await send('POST', `/apps/${appId}/restart`, { token: admin.accessToken });
    expect(re.status, re.raw).toBe(200);
    expect(await newest((x) => x.action === 'app.restart' && x.target.id === appId)).toMatchObject({ actor: actorOf(admin), target: { type: 'app', id: appId, name: appName }, outcome: 'ok', ip: re.ip });
    const st = await send('POST', `/apps/${appId}/stop`, { token: admin.accessToken });
    expect(st.status, st.raw).toBe(200);
    expect(await newest((x) => x.action === 'app.stop' && x.target.id === appId)).toMatchObject({ actor: actorOf(admin), target: { type: 'app', id: appId, name: appName }, outcome: 'ok', ip: st.ip });
  });

  it('deployment.cancel of a queued deployment', async () => {
    const dev = T.members.developer;
    const appName = name('cancel');
    const appId = await deployApp(dev, appName);
    await h.worker.idle();
    await h.worker.stop();
    let depId: string;
    let c: Sent;
    try {
      const d = await send('POST', '/deploy', { token: dev.accessToken, body: { name: appName, image: 'acme/web:2', port: 8080 } });
      expect(d.status, d.raw).toBe(202);
      depId = d.body.deploymentId;
      c = await send('POST', `/apps/${appId}/deployments/${depId}/cancel`, { token: dev.accessToken });
      expect(c.status, c.raw).toBe(200);
      expect(c.body.status).toBe('canceled');
    } finally {
      h.worker.start();
    }
    expect(await newest((x) => x.action === 'deployment.cancel' && x.target.id === depId)).toMatchObject({ actor: actorOf(dev), target: { type: 'deployment', id: depId, name: appName }, outcome: 'ok', ip: c.ip });
  });

  it('app.delete keeps the name of the app that is gone', async () => {
    const owner = T.members.owner;
    const appName = name('gone');
    const appId = await deployApp(owner, appName);
    const r = await send('DELETE', `/apps/${appId}`, { token: owner.accessToken });
    expect(r.status, r.raw).toBe(200);
    expect((await send('GET', `/apps/${appId}`, { token: owner.accessToken })).status).toBe(404);
    expect(await newest((x) => x.action === 'app.delete' && x.target.id === appId)).toMatchObject({ actor: actorOf(owner), target: { type: 'app', id: appId, name: appName }, outcome: 'ok', ip: r.ip });
    // The app's earlier records keep their name too.
    expect(await newest((x) => x.action === 'deploy' && x.target.id === appId)).toMatchObject({ target: { type: 'app', name: appName } });
  });

  it('secret.set and secret.delete; deleting an unknown secret is recorded failed (unknown_secret)', async () => {
    const dev = T.members.developer;
    const value = `audit-secret-set-${randomBytes(8).toString('hex')}`;
    secrets.push(value);
    const set = await send('POST', '/secrets', { token: dev.accessToken, body: { name: 'audited-secret', data: { PASSWORD: value } } });
    expect(set.status, set.raw).toBe(200);
    const s = await newest((x) => x.action === 'secret.set' && x.target.name === 'audited-secret');
    expect(s).toMatchObject({ actor: actorOf(dev), target: { type: 'secret', name: 'audited-secret' }, outcome: 'ok', ip: set.ip });
    expect(s.target.id).toContain('audited-secret');

    const del = await send('DELETE', '/secrets/audited-secret', { token: dev.accessToken });
    expect(del.status, del.raw).toBe(200);
    expect(await newest((x) => x.action === 'secret.delete' && x.target.name === 'audited-secret')).toMatchObject({ actor: actorOf(dev), target: { type: 'secret', name: 'audited-secret' }, outcome: 'ok', ip: del.ip });

    const unknown = await send('DELETE', '/secrets/never-was', { token: dev.accessToken });
    expect(unknown.status, unknown.raw).toBe(404);
    expect(unknown.body.error).toBe('unknown_secret');
    expect(await newest((x) => x.action === 'secret.delete' && x.target.name === 'never-was')).toMatchObject({
      actor: actorOf(dev),
      target: { type: 'secret', name: 'never-was' },
      outcome: 'failed',
      ip: unknown.ip,
      detail: 'unknown_secret',
    });
  });

  it('webhook.rotate of a repo app; an image app\'s 409 is recorded failed', async () => {
    const admin = T.members.admin;
    const repo = await repoApp(admin);
    const r = await send('POST', `/apps/${repo.id}/webhook/rotate`, { token: admin.accessToken });
    expect(r.status, r.raw).toBe(200);
    secrets.push(r.body.secret);
    expect(await newest((x) => x.action === 'webhook.rotate' && x.target.id === repo.id)).toMatchObject({ actor: actorOf(admin), target: { type: 'app', id: repo.id, name: repo.name }, outcome: 'ok', ip: r.ip });

    const imageName = name('img');
    const imageApp = await deployApp(admin, imageName);
    const c = await send('POST', `/apps/${imageApp}/webhook/rotate`, { token: admin.accessToken });
    expect(c.status, c.raw).toBe(409);
    expect(await newest((x) => x.action === 'webhook.rotate' && x.target.id === imageApp)).toMatchObject({
      actor: actorOf(admin),
      target: { type: 'app', id: imageApp, name: imageName },
      outcome: 'failed',
      ip: c.ip,
      detail: 'conflict',
    });
  });

  it('webhook.delivery: a signed push, with no user and the sender\'s address', async () => {
    const repo = await repoApp(T.members.owner);
    const after = sha(`audit-${suffix}`);
    docker.setHeadCommit(after);
    const body = rewritten('github-push-new-branch', { ref: 'refs/heads/main', before: sha('audit-before'), after });
    const ip = '140.82.115.9';
    const res = await h.app.inject({ method: 'POST', url: `/webhooks/github/${repo.id}`, payload: body, headers: deliveryHeaders({ event: 'push', body, secret: repo.secret }), remoteAddress: ip });
    expect(res.statusCode, res.body).toBe(200);
    const delivered = res.json();
    expect(delivered).toMatchObject({ queued: true, commitSha: after });
    expect(await newest((x) => x.action === 'webhook.delivery' && x.target.id === repo.id)).toMatchObject({
      actor: { userId: null, email: null, tokenId: null },
      target: { type: 'app', id: repo.id, name: repo.name },
      outcome: 'ok',
      ip,
    });
    await settle(send, repo.id, delivered.deploymentId, T.members.owner.accessToken);
  });

  it('token.create and token.revoke (the name kept after revocation)', async () => {
    const dev = T.members.developer;
    const c = await send('POST', '/tokens', { token: dev.accessToken, body: { name: 'audited-token', scopes: ['read'] } });
    expect(c.status, c.raw).toBe(201);
    secrets.push(c.body.secret);
    const id = c.body.token.id as string;
    expect(await newest((x) => x.action === 'token.create' && x.target.id === id)).toMatchObject({ actor: actorOf(dev), target: { type: 'token', id, name: 'audited-token' }, outcome: 'ok', ip: c.ip });
    const r = await send('DELETE', `/tokens/${id}`, { token: dev.accessToken });
    expect(r.status, r.raw).toBe(204);
    expect(await newest((x) => x.action === 'token.revoke' && x.target.id === id)).toMatchObject({ actor: actorOf(dev), target: { type: 'token', id, name: 'audited-token' }, outcome: 'ok', ip: r.ip });
  });

  it('member.invite, member.join, member.role, member.remove', async () => {
    const admin = T.members.admin;
    const joiner = await register(uniqueEmail('joiner'));
    const inv = await send('POST', `/orgs/${T.orgId}/invitations`, { token: admin.accessToken, body: { email: joiner.email, role: 'viewer' } });
    expect(inv.status, inv.raw).toBe(201);
    secrets.push(inv.body.token);
    const invId = inv.body.invitation.id as string;
    expect(await newest((x) => x.action === 'member.invite' && x.target.id === invId)).toMatchObject({ actor: actorOf(admin), target: { type: 'invitation', id: invId, name: joiner.email }, outcome: 'ok', ip: inv.ip });

    // The joiner accepts with a session of their own personal org: the record is in the team's trail.
    const acc = await send('POST', '/invitations/accept', { token: joiner.accessToken, body: { token: inv.body.token } });
    expect(acc.status, acc.raw).toBe(200);
    const joined = await newest((x) => x.action === 'member.join' && x.actor.userId === joiner.userId);
    expect(joined).toMatchObject({ actor: actorOf(joiner), target: { id: T.orgId }, outcome: 'ok', ip: acc.ip });
    expect((await allEvents(joiner)).events.filter((e) => e.action === 'member.join')).toEqual([]);

    const role = await send('PATCH', `/orgs/${T.orgId}/members/${joiner.userId}`, { token: admin.accessToken, body: { role: 'developer' } });
    expect(role.status, role.raw).toBe(200);
    expect(await newest((x) => x.action === 'member.role' && x.target.id === joiner.userId)).toMatchObject({ actor: actorOf(admin), target: { type: 'member', id: joiner.userId, name: joiner.email }, outcome: 'ok', ip: role.ip });

    const rm = await send('DELETE', `/orgs/${T.orgId}/members/${joiner.userId}`, { token: admin.accessToken });
    expect(rm.status, rm.raw).toBe(204);
    expect(await newest((x) => x.action === 'member.remove' && x.target.id === joiner.userId)).toMatchObject({ actor: actorOf(admin), target: { type: 'member', id: joiner.userId, name: joiner.email }, outcome: 'ok', ip: rm.ip });
  });

  it('org.rename', async () => {
    const owner = T.members.owner;
    const r = await send('PATCH', `/orgs/${T.orgId}`, { token: owner.accessToken, body: { name: 'audited, renamed' } });
    expect(r.status, r.raw).toBe(200);
    expect(await newest((x) => x.action === 'org.rename' && x.target.id === T.orgId)).toMatchObject({ actor: actorOf(owner), target: { type: 'org', id: T.orgId, name: 'audited, renamed' }, outcome: 'ok', ip: r.ip });
  });
});

describe('refusals are recorded `denied`', () => {
  it("a viewer's deploy", async () => {
    const viewer = T.members.viewer;
    const appName = name('viewer');
    const r = await send('POST', '/deploy', { token: viewer.accessToken, body: { name: appName, image: 'acme/web:1', port: 8080 } });
    expect(r.status, r.raw).toBe(403);
    expect(await newest((x) => x.action === 'deploy' && x.actor.userId === viewer.userId)).toMatchObject({
      actor: actorOf(viewer),
      target: { type: 'app', name: appName },
      outcome: 'denied',
      ip: r.ip,
      detail: 'forbidden',
    });
  });

  it("a developer's GET /audit", async () => {
    const dev = T.members.developer;
    const r = await send('GET', '/audit', { token: dev.accessToken });
    expect(r.status, r.raw).toBe(403);
    const e = await newest((x) => x.outcome === 'denied' && x.actor.userId === dev.userId && x.ip === r.ip);
    expect(e).toMatchObject({ actor: actorOf(dev), outcome: 'denied', ip: r.ip });
    expect(e.action).toContain('audit');
  });

  it('an API token without the scope (deploy and secrets with a read token)', async () => {
    const owner = T.members.owner;
    const read = await apiToken(owner, { name: 'read-only', scopes: ['read'] });
    secrets.push(read.secret);
    const d = await send('POST', '/deploy', { token: read.secret, body: { name: name('noscope'), image: 'acme/web:1', port: 8080 } });
    expect(d.status, d.raw).toBe(403);
    expect(await newest((x) => x.action === 'deploy' && x.actor.tokenId === read.token.id)).toMatchObject({ actor: actorOf(owner, read.token.id), outcome: 'denied', ip: d.ip, detail: 'forbidden' });
    const s = await send('POST', '/secrets', { token: read.secret, body: { name: 'noscope', data: { K: 'v' } } });
    expect(s.status, s.raw).toBe(403);
    expect(await newest((x) => x.action === 'secret.set' && x.actor.tokenId === read.token.id)).toMatchObject({ actor: actorOf(owner, read.token.id), target: { type: 'secret', name: 'noscope' }, outcome: 'denied', ip: s.ip });
  });
});

describe('refusals of member management are recorded `denied` in the org they were aimed at', () => {
  it("a developer's invitation, a viewer removing someone, an admin demoting an owner", async () => {
    const { developer, viewer, admin, owner } = T.members;
    const inv = await send('POST', `/orgs/${T.orgId}/invitations`, { token: developer.accessToken, body: { email: uniqueEmail('refused'), role: 'viewer' } });
    expect(inv.status, inv.raw).toBe(403);
    expect(await newest((x) => x.action === 'member.invite' && x.actor.userId === developer.userId)).toMatchObject({ actor: actorOf(developer), outcome: 'denied', ip: inv.ip, detail: 'forbidden' });

    const rm = await send('DELETE', `/orgs/${T.orgId}/members/${developer.userId}`, { token: viewer.accessToken });
    expect(rm.status, rm.raw).toBe(403);
    expect(await newest((x) => x.action === 'member.remove' && x.actor.userId === viewer.userId)).toMatchObject({ actor: actorOf(viewer), target: { type: 'member', id: developer.userId, name: developer.email }, outcome: 'denied', ip: rm.ip });

    const demote = await send('PATCH', `/orgs/${T.orgId}/members/${owner.userId}`, { token: admin.accessToken, body: { role: 'viewer' } });
    expect(demote.status, demote.raw).toBe(403);
    expect(await newest((x) => x.action === 'member.role' && x.actor.userId === admin.userId && x.target.id === owner.userId)).toMatchObject({ actor: actorOf(admin), target: { type: 'member', id: owner.userId, name: owner.email }, outcome: 'denied', ip: demote.ip });
  });

  it("the record's ip is the client's address: an X-Forwarded-For from an untrusted client is not believed", async () => {
    const owner = T.members.owner;
    const res = await h.app.inject({ method: 'POST', url: '/secrets', payload: { name: 'xff', data: { K: 'v' } }, headers: { authorization: `Bearer ${owner.accessToken}`, 'x-forwarded-for': '1.2.3.4' }, remoteAddress: '198.18.0.7' });
    expect(res.statusCode, res.body).toBe(200);
    expect(await newest((x) => x.action === 'secret.set' && x.target.name === 'xff')).toMatchObject({ outcome: 'ok', ip: '198.18.0.7' });
  });
});

describe('no secret value ever appears', () => {
  it('neither GET /audit, GET /admin/audit nor any audit_log row holds a secret value, inline env value, API token secret, invitation token or webhook secret', async () => {
    const owner = T.members.owner;
    const secretValue = `sv-${randomBytes(12).toString('hex')}`;
    const inlineValue = `iv-${randomBytes(12).toString('hex')}`;
    const repoToken = `ghp_${randomBytes(16).toString('hex')}`;
    secrets.push(secretValue, inlineValue, repoToken);
    const s = await send('POST', '/secrets', { token: owner.accessToken, body: { name: 'never-shown', data: { API_KEY: secretValue } } });
    expect(s.status, s.raw).toBe(200);
    const appName = name('values');
    const d = await send('POST', '/deploy', { token: owner.accessToken, body: { name: appName, image: 'acme/web:1', port: 8080, env: { INLINE: inlineValue }, envFrom: ['never-shown'] } });
    expect(d.status, d.raw).toBe(202);
    await settle(send, d.body.appId, d.body.deploymentId, owner.accessToken);
    const rp = await send('POST', '/deploy', { token: owner.accessToken, body: { name: name('private'), repo: 'https://github.com/acme/private', branch: 'main', repoToken, port: 8080 } });
    expect(rp.status, rp.raw).toBe(202);
    secrets.push(rp.body.webhook.secret);
    await settle(send, rp.body.appId, rp.body.deploymentId, owner.accessToken);
    // Refused and failed calls that carry secrets are recorded too, and must not carry them either.
    const refused = await send('POST', '/secrets', { token: T.members.viewer.accessToken, body: { name: 'never-shown', data: { API_KEY: secretValue } } });
    expect(refused.status).toBe(403);
    const failed = await send('POST', '/deploy', { token: owner.accessToken, body: { name: appName, image: 'acme/web:1', port: 8080, env: { INLINE: inlineValue }, envFrom: ['no-such-secret'] } });
    expect(failed.status, failed.raw).toBe(404);
    // The values really were recorded around: the calls are in the trail.
    await newest((x) => x.action === 'secret.set' && x.target.name === 'never-shown' && x.outcome === 'denied');
    await newest((x) => x.action === 'deploy' && x.target.id === d.body.appId && x.outcome === 'failed');

    const org = await allEvents(owner);
    const admin = await allEvents(op, '/admin/audit');
    const rows = JSON.stringify(await h.deps.db.selectFrom('audit_log').selectAll().execute());
    expect(secrets.length).toBeGreaterThan(8);
    for (const v of secrets) {
      expect(org.raw.includes(v), `GET /audit holds a secret (${v.slice(0, 6)}…)`).toBe(false);
      expect(admin.raw.includes(v), `GET /admin/audit holds a secret (${v.slice(0, 6)}…)`).toBe(false);
      expect(rows.includes(v), `an audit_log row holds a secret (${v.slice(0, 6)}…)`).toBe(false);
    }
  });
});

describe("operators' vault actions: GET /admin/audit only", () => {
  it('an unseal, a seal and a refused seal are in GET /admin/audit, not in any GET /audit; only operators read it', async () => {
    const sealed = await send('POST', '/admin/seal', { token: op.accessToken });
    expect(sealed.status, sealed.raw).toBe(200);
    expect((await unseal(op, masterKey)).body.outcome).toBe('unsealed');
    await until('the vault to be unsealed', () => !h.deps.vault.sealed);
    const refused = await send('POST', '/admin/seal', { token: T.members.owner.accessToken });
    expect(refused.status, refused.raw).toBe(403);
    expect(h.deps.vault.sealed).toBe(false);

    const { events } = await allEvents(op, '/admin/audit');
    const byOp = events.filter((e) => e.actor.userId === op.userId);
    expect(byOp.filter((e) => e.action === 'vault.unseal').map((e) => e.outcome)).toEqual(['ok', 'ok']);
    expect(byOp.find((e) => e.action === 'vault.seal')).toMatchObject({ outcome: 'ok' });
    expect(events.find((e) => e.action === 'vault.seal' && e.actor.userId === T.members.owner.userId)).toMatchObject({ outcome: 'denied' });
    // Admin-log events are listed newest first too.
    for (let i = 1; i < events.length; i++) expect(Number(events[i]!.id)).toBeLessThan(Number(events[i - 1]!.id));

    for (const who of [op, T.members.owner, T.members.admin]) {
      const { events: org } = await allEvents(who);
      expect(org.filter((e) => e.action.startsWith('vault.') || e.action.startsWith('operator.')), `vault actions in ${who.email}'s GET /audit`).toEqual([]);
    }

    for (const role of ['owner', 'admin', 'developer', 'viewer'] as const) {
      const r = await send('GET', '/admin/audit', { token: T.members[role].accessToken });
      expect(r.status, `${role} GET /admin/audit ${r.raw}`).toBe(403);
      expect(r.body.error).toBe('forbidden');
    }
    const ownerToken = await apiToken(T.members.owner, { name: 'admin-reader', scopes: ['read', 'deploy', 'secrets', 'manage'] });
    secrets.push(ownerToken.secret);
    const viaToken = await send('GET', '/admin/audit', { token: ownerToken.secret });
    expect(viaToken.status, viaToken.raw).toBe(403);
  });
});

describe('a joined member records in the org they act in', () => {
  it('a member invited through join() leaves a member.invite and a member.join in the team trail', async () => {
    const u = await join(T.members.owner, T.orgId, await register(uniqueEmail('late')), 'developer');
    const invite = await newest((x) => x.action === 'member.invite' && x.target.name === u.email);
    expect(invite).toMatchObject({ actor: actorOf(T.members.owner), outcome: 'ok' });
    expect(await newest((x) => x.action === 'member.join' && x.actor.userId === u.userId)).toMatchObject({ actor: actorOf(u), outcome: 'ok', target: { id: T.orgId } });
  });
});

describe('a failed switch into an org you are not in', () => {
  it('stays in your own trail, never the target org’s', async () => {
    const before = (await allEvents(T.members.owner)).events.length;
    const r = await send('POST', '/auth/switch-org', { token: T.outsider.accessToken, body: { orgId: T.orgId } });
    expect(r.status).toBe(404);
    expect((await allEvents(T.members.owner)).events).toHaveLength(before);
    const own = await newest((e) => e.action === 'auth.switch_org', T.outsider);
    expect(own).toMatchObject({ actor: actorOf(T.outsider), outcome: 'failed', target: { type: 'org', id: T.orgId, name: null }, detail: 'org_not_found' });
  });
});
