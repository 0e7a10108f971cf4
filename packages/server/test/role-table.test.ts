// CONTRACT.md "Orgs, members, roles": the role table, row by row for each role, through REST. Allowed answers the
// route's real success status (a 409 `conflict` for something already done still means "allowed"); refused answers
// 403 `forbidden` and changes nothing. An org you are not in is 404 `org_not_found`, its apps 404 `app_not_found`,
// whatever credential you hold; an app-scoped API token reaches its own app only. The fake engine runs the apps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueEmail, type Harness } from './harness.js';
import { ROLES, teams, type Role, type Team } from './teams-helpers.js';
import { ADMIN_ENV, newMasterKey, type Reply, type TestUser } from './vault-helpers.js';
import { settle } from './wait.js';

let h: Harness;
const { call, register, operator, unseal, join, switchTo, team, deployApp, apiToken } = teams(() => h);

let T: Team;
let owner: TestUser;
/** An image app of the team with one succeeded deployment (`depId`): read, cancel (final) and outsider rows. */
let appId: string;
let depId: string;
/** Restarted and stopped by the writers. */
let actionAppId: string;
/** Redeployed by the writers, and while the worker is paused, for a queued deployment to cancel. */
let redeployApp: { id: string; name: string };
/** Another image app of the team: the app-scoped token's "other app". */
let otherAppId: string;
let otherDepId: string;
/** A repo app (it has a webhook to rotate). */
let repoAppId: string;

const suffix = process.pid % 1000;
let n = 0;
const name = (tag: string) => `rt-${tag}-${++n}-${suffix}`;

const as = (u: TestUser) => ({ token: u.accessToken });

async function appExists(id: string): Promise<boolean> {
  const r = await call('GET', `/apps/${id}`, as(owner));
  return r.status === 200;
}

async function deploymentStatus(id: string, deploymentId: string): Promise<string | undefined> {
  const r = await call('GET', `/apps/${id}`, as(owner));
  return r.body.deployments.find((d: { id: string }) => d.id === deploymentId)?.status;
}

async function memberRole(userId: string): Promise<string | undefined> {
  const r = await call('GET', `/orgs/${T.orgId}/members`, as(owner));
  expect(r.status, r.raw).toBe(200);
  return r.body.members.find((m: { userId: string }) => m.userId === userId)?.role;
}

/** A new member of the team with `role`, holding a session acting in it (invited by the owner). */
async function freshMember(role: Role): Promise<TestUser> {
  return join(owner, T.orgId, await register(uniqueEmail(`fresh-${role}`)), role);
}

async function webhookSecret(id: string): Promise<string> {
  const r = await call('GET', `/apps/${id}`, as(owner));
  expect(r.status, r.raw).toBe(200);
  return r.body.webhook.secret as string;
}

/** Runs with the deployment worker paused, so what is deployed stays queued. */
async function pauseWorker(): Promise<void> {
  await h.worker.idle();
  await h.worker.stop();
}

beforeAll(async () => {
  h = await startHarness({ ...ADMIN_ENV, QUOTA_MAX_APPS: '100' });
  const op = await operator();
  expect((await unseal(op, newMasterKey())).body.outcome).toBe('initialized');
  T = await team();
  owner = T.members.owner;
  appId = await deployApp(owner, name('app'));
  depId = (await call('GET', `/apps/${appId}`, as(owner))).body.deployments[0].id;
  actionAppId = await deployApp(owner, name('action'));
  const redeployName = name('redeploy');
  redeployApp = { id: await deployApp(owner, redeployName), name: redeployName };
  otherAppId = await deployApp(owner, name('other'));
  otherDepId = (await call('GET', `/apps/${otherAppId}`, as(owner))).body.deployments[0].id;
  const repo = await call('POST', '/deploy', { ...as(owner), body: { name: name('repo'), repo: 'https://github.com/acme/api', branch: 'main', port: 8080 } });
  expect(repo.status, repo.raw).toBe(202);
  expect((await settle(call, repo.body.appId, repo.body.deploymentId, owner.accessToken)).deployment.status).toBe('succeeded');
  repoAppId = repo.body.appId;
  const secret = await call('POST', '/secrets', { ...as(owner), body: { name: 'shared', data: { K: 'v' } } });
  expect(secret.status, secret.raw).toBe(200);
}, 120_000);
afterAll(async () => {
  await h?.close();
});

interface Prepared {
  url: string;
  body?: unknown;
  /** Who calls, when not the team's member of the role (a fresh member who leaves). */
  caller?: TestUser;
  /** Anything `verify` needs to know. */
  ctx?: any;
}

interface Row {
  /** The contract's action. */
  action: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  route: string;
  allowed: readonly Role[];
  /** The real success status (a 409 for something already done when that is what "allowed" answers). */
  ok: number;
  /** Prepares the call for `role` (as the owner), answers what to call. */
  prepare(role: Role): Promise<Prepared>;
  /** Checks the effect (allowed) or that nothing changed (refused). */
  verify?(allowed: boolean, r: Reply, p: Prepared, role: Role): Promise<void>;
  /** Undoes what `prepare` set up (runs whatever happened). */
  after?(): Promise<void>;
}

const ALL: readonly Role[] = ROLES;
const WRITERS: readonly Role[] = ['owner', 'admin', 'developer'];
const ADMINS: readonly Role[] = ['owner', 'admin'];
const OWNERS: readonly Role[] = ['owner'];

const rows: Row[] = [
  // read apps, deployments, logs, secret names, members: everyone
  { action: 'read apps', method: 'GET', route: '/apps', allowed: ALL, ok: 200, prepare: async () => ({ url: '/apps' }),
    verify: async (yes, r) => { if (yes) expect(r.body.apps.map((a: { id: string }) => a.id)).toContain(appId); } },
  { action: 'read apps', method: 'GET', route: '/apps/{id}', allowed: ALL, ok: 200, prepare: async () => ({ url: `/apps/${appId}` }),
    verify: async (yes, r) => { if (yes) expect(r.body.app.id).toBe(appId); } },
  { action: 'read logs', method: 'GET', route: '/apps/{id}/logs', allowed: ALL, ok: 200, prepare: async () => ({ url: `/apps/${appId}/logs` }) },
  { action: 'read deployments', method: 'GET', route: '/apps/{id}/deployments/{depId}/logs', allowed: ALL, ok: 200, prepare: async () => ({ url: `/apps/${appId}/deployments/${depId}/logs` }) },
  { action: 'read secret names', method: 'GET', route: '/secrets', allowed: ALL, ok: 200, prepare: async () => ({ url: '/secrets' }),
    verify: async (yes, r) => { if (yes) { expect(r.body.secrets.map((s: { name: string }) => s.name)).toContain('shared'); expect(r.raw).not.toContain('"v"'); } } },
  { action: 'read secret names', method: 'GET', route: '/secrets/{name}', allowed: ALL, ok: 200, prepare: async () => ({ url: '/secrets/shared' }),
    verify: async (yes, r) => { if (yes) expect(r.body.keys).toEqual(['K']); } },
  { action: 'read members', method: 'GET', route: '/orgs/{orgId}/members', allowed: ALL, ok: 200, prepare: async () => ({ url: `/orgs/${T.orgId}/members` }),
    verify: async (yes, r) => { if (yes) expect(r.body.members.map((m: { userId: string }) => m.userId)).toEqual(expect.arrayContaining(ROLES.map((x) => T.members[x].userId))); } },
  { action: 'leave the org', method: 'DELETE', route: '/orgs/{orgId}/members/{own userId}', allowed: ALL, ok: 204,
    prepare: async (role) => { const me = await freshMember(role); return { url: `/orgs/${T.orgId}/members/${me.userId}`, caller: me, ctx: me }; },
    verify: async (yes, _r, p, role) => {
      expect(await memberRole(p.ctx.userId)).toBe(yes ? undefined : role);
      // A member who left: their session acting in the org stops at once.
      if (yes) expect((await call('GET', '/apps', as(p.ctx))).status).toBe(401);
    } },

  // deploy, restart, stop, cancel, set/delete secrets: owner, admin, developer
  { action: 'deploy', method: 'POST', route: '/deploy (a new app)', allowed: WRITERS, ok: 202,
    prepare: async (role) => ({ url: '/deploy', body: { name: name(`new-${role}`), image: 'acme/web:1', port: 8080 } }),
    verify: async (yes, r, p) => {
      if (yes) {
        expect(r.body.status).toBe('queued');
        expect((await settle(call, r.body.appId, r.body.deploymentId, owner.accessToken)).deployment.status).toBe('succeeded');
      } else {
        const apps = await call('GET', '/apps', as(owner));
        expect(apps.body.apps.map((a: { name: string }) => a.name)).not.toContain((p.body as { name: string }).name);
      }
    } },
  { action: 'deploy', method: 'POST', route: '/deploy (an existing app)', allowed: WRITERS, ok: 202,
    prepare: async () => ({ url: '/deploy', body: { name: redeployApp.name, image: 'acme/web:2', port: 8080 }, ctx: (await call('GET', `/apps/${redeployApp.id}`, as(owner))).body.deployments.length }),
    verify: async (yes, r, p) => {
      if (yes) {
        expect(r.body.appId).toBe(redeployApp.id);
        expect((await settle(call, redeployApp.id, r.body.deploymentId, owner.accessToken)).deployment.status).toBe('succeeded');
      } else {
        expect((await call('GET', `/apps/${redeployApp.id}`, as(owner))).body.deployments.length).toBe(p.ctx);
      }
    } },
  { action: 'restart', method: 'POST', route: '/apps/{id}/restart', allowed: WRITERS, ok: 200,
    prepare: async () => ({ url: `/apps/${actionAppId}/restart`, ctx: (await call('GET', `/apps/${actionAppId}`, as(owner))).body.deployments.length }),
    verify: async (yes, r, p) => {
      if (yes) expect(r.body.app).toMatchObject({ id: actionAppId, status: 'running' });
      else expect((await call('GET', `/apps/${actionAppId}`, as(owner))).body.deployments.length).toBe(p.ctx);
    } },
  { action: 'stop', method: 'POST', route: '/apps/{id}/stop', allowed: WRITERS, ok: 200,
    // Each writer stops a running app: restarted first (by the owner).
    prepare: async () => {
      const re = await call('POST', `/apps/${actionAppId}/restart`, as(owner));
      expect(re.status, re.raw).toBe(200);
      return { url: `/apps/${actionAppId}/stop` };
    },
    verify: async (yes, r) => {
      const now = (await call('GET', `/apps/${actionAppId}`, as(owner))).body.app.status;
      if (yes) expect(r.body.app).toMatchObject({ id: actionAppId, status: 'stopped' });
      expect(now).toBe(yes ? 'stopped' : 'running');
    } },
  { action: 'cancel', method: 'POST', route: '/apps/{id}/deployments/{depId}/cancel (queued)', allowed: WRITERS, ok: 200,
    prepare: async () => {
      await pauseWorker();
      const d = await call('POST', '/deploy', { ...as(owner), body: { name: redeployApp.name, image: 'acme/web:3', port: 8080 } });
      expect(d.status, d.raw).toBe(202);
      return { url: `/apps/${redeployApp.id}/deployments/${d.body.deploymentId}/cancel`, ctx: d.body.deploymentId };
    },
    verify: async (yes, r, p) => {
      if (yes) expect(r.body).toMatchObject({ id: p.ctx, status: 'canceled' });
      expect(await deploymentStatus(redeployApp.id, p.ctx)).toBe(yes ? 'canceled' : 'queued');
    },
    after: async () => {
      h.worker.start();
      await h.worker.idle();
    } },
  { action: 'cancel', method: 'POST', route: '/apps/{id}/deployments/{depId}/cancel (already final: 409)', allowed: WRITERS, ok: 409,
    prepare: async () => ({ url: `/apps/${appId}/deployments/${depId}/cancel` }),
    verify: async (yes, r) => {
      if (yes) expect(r.body.error).toBe('conflict');
      expect(await deploymentStatus(appId, depId)).toBe('succeeded');
    } },
  { action: 'set secrets', method: 'POST', route: '/secrets', allowed: WRITERS, ok: 200,
    prepare: async (role) => ({ url: '/secrets', body: { name: `set-${role}`, data: { KEY: `value-${role}` } } }),
    verify: async (yes, r, p) => {
      if (yes) expect(r.body).toMatchObject({ name: (p.body as { name: string }).name, keys: ['KEY'] });
      expect((await call('GET', `/secrets/${(p.body as { name: string }).name}`, as(owner))).status).toBe(yes ? 200 : 404);
    } },
  { action: 'delete secrets', method: 'DELETE', route: '/secrets/{name}', allowed: WRITERS, ok: 200,
    prepare: async (role) => {
      const put = await call('POST', '/secrets', { ...as(owner), body: { name: `del-${role}`, data: { KEY: 'x' } } });
      expect(put.status, put.raw).toBe(200);
      return { url: `/secrets/del-${role}`, ctx: `del-${role}` };
    },
    verify: async (yes, r, p) => {
      if (yes) expect(r.body).toEqual({ ok: true });
      expect((await call('GET', `/secrets/${p.ctx}`, as(owner))).status).toBe(yes ? 404 : 200);
    } },

  // delete apps, rotate webhooks, invitations, member roles (not owners'), audit log: owner, admin
  { action: 'delete apps', method: 'DELETE', route: '/apps/{id}', allowed: ADMINS, ok: 200,
    prepare: async (role) => {
      const id = await deployApp(owner, name(`del-${role}`));
      return { url: `/apps/${id}`, ctx: id };
    },
    verify: async (yes, r, p) => {
      if (yes) expect(r.body).toEqual({ deleted: true, id: p.ctx });
      expect(await appExists(p.ctx)).toBe(!yes);
    } },
  { action: 'rotate webhooks', method: 'POST', route: '/apps/{id}/webhook/rotate (a repo app)', allowed: ADMINS, ok: 200,
    prepare: async () => ({ url: `/apps/${repoAppId}/webhook/rotate`, ctx: await webhookSecret(repoAppId) }),
    verify: async (yes, r, p) => {
      const now = await webhookSecret(repoAppId);
      if (yes) {
        expect(r.body.secret).toBe(now);
        expect(now).not.toBe(p.ctx);
      } else {
        expect(now).toBe(p.ctx);
      }
    } },
  { action: 'rotate webhooks', method: 'POST', route: '/apps/{id}/webhook/rotate (an image app: 409)', allowed: ADMINS, ok: 409,
    prepare: async () => ({ url: `/apps/${appId}/webhook/rotate` }),
    verify: async (yes, r) => { if (yes) expect(r.body.error).toBe('conflict'); } },
  { action: 'invitations', method: 'POST', route: '/orgs/{orgId}/invitations', allowed: ADMINS, ok: 201,
    prepare: async (role) => ({ url: `/orgs/${T.orgId}/invitations`, body: { email: uniqueEmail(`invitee-${role}`), role: 'developer' } }),
    verify: async (yes, r, p) => {
      const email = (p.body as { email: string }).email;
      if (yes) expect(r.body).toMatchObject({ invitation: { email, role: 'developer' }, token: expect.any(String) });
      const list = await call('GET', `/orgs/${T.orgId}/invitations`, as(owner));
      expect(list.body.invitations.some((i: { email: string }) => i.email === email)).toBe(yes);
    } },
  { action: 'invitations', method: 'GET', route: '/orgs/{orgId}/invitations', allowed: ADMINS, ok: 200,
    prepare: async () => ({ url: `/orgs/${T.orgId}/invitations` }),
    verify: async (yes, r) => { if (yes) expect(Array.isArray(r.body.invitations)).toBe(true); } },
  { action: 'invitations', method: 'DELETE', route: '/orgs/{orgId}/invitations/{id}', allowed: ADMINS, ok: 204,
    prepare: async (role) => {
      const inv = await call('POST', `/orgs/${T.orgId}/invitations`, { ...as(owner), body: { email: uniqueEmail(`withdrawn-${role}`), role: 'viewer' } });
      expect(inv.status, inv.raw).toBe(201);
      return { url: `/orgs/${T.orgId}/invitations/${inv.body.invitation.id}`, ctx: inv.body.invitation.id };
    },
    verify: async (yes, _r, p) => {
      const list = await call('GET', `/orgs/${T.orgId}/invitations`, as(owner));
      expect(list.body.invitations.some((i: { id: string }) => i.id === p.ctx)).toBe(!yes);
    } },
  { action: 'member roles', method: 'PATCH', route: "/orgs/{orgId}/members/{userId} (a developer's → viewer)", allowed: ADMINS, ok: 200,
    prepare: async () => { const m = await freshMember('developer'); return { url: `/orgs/${T.orgId}/members/${m.userId}`, body: { role: 'viewer' }, ctx: m.userId }; },
    verify: async (yes, r, p) => {
      if (yes) expect(r.body.member).toMatchObject({ userId: p.ctx, role: 'viewer' });
      expect(await memberRole(p.ctx)).toBe(yes ? 'viewer' : 'developer');
    } },
  { action: 'member roles', method: 'PATCH', route: "/orgs/{orgId}/members/{userId} (a viewer's → admin)", allowed: ADMINS, ok: 200,
    prepare: async () => { const m = await freshMember('viewer'); return { url: `/orgs/${T.orgId}/members/${m.userId}`, body: { role: 'admin' }, ctx: m.userId }; },
    verify: async (yes, r, p) => {
      if (yes) expect(r.body.member).toMatchObject({ userId: p.ctx, role: 'admin' });
      expect(await memberRole(p.ctx)).toBe(yes ? 'admin' : 'viewer');
    } },
  { action: 'member roles', method: 'DELETE', route: '/orgs/{orgId}/members/{userId} (remove a developer)', allowed: ADMINS, ok: 204,
    prepare: async () => { const m = await freshMember('developer'); return { url: `/orgs/${T.orgId}/members/${m.userId}`, ctx: m }; },
    verify: async (yes, _r, p) => {
      expect(await memberRole(p.ctx.userId)).toBe(yes ? undefined : 'developer');
      expect((await call('GET', '/apps', as(p.ctx))).status).toBe(yes ? 401 : 200);
    } },
  { action: 'audit log', method: 'GET', route: '/audit', allowed: ADMINS, ok: 200, prepare: async () => ({ url: '/audit' }),
    verify: async (yes, r) => { if (yes) expect(r.body).toMatchObject({ events: expect.any(Array) }); } },

  // change or remove owners, rename the org: owner only
  { action: 'change owners', method: 'PATCH', route: "/orgs/{orgId}/members/{userId} (an owner's → admin)", allowed: OWNERS, ok: 200,
    prepare: async () => { const m = await freshMember('owner'); return { url: `/orgs/${T.orgId}/members/${m.userId}`, body: { role: 'admin' }, ctx: m.userId }; },
    verify: async (yes, r, p) => {
      if (yes) expect(r.body.member).toMatchObject({ userId: p.ctx, role: 'admin' });
      expect(await memberRole(p.ctx)).toBe(yes ? 'admin' : 'owner');
    } },
  { action: 'change owners', method: 'PATCH', route: '/orgs/{orgId}/members/{userId} (a developer → owner)', allowed: OWNERS, ok: 200,
    prepare: async () => { const m = await freshMember('developer'); return { url: `/orgs/${T.orgId}/members/${m.userId}`, body: { role: 'owner' }, ctx: m.userId }; },
    verify: async (yes, r, p) => {
      if (yes) expect(r.body.member).toMatchObject({ userId: p.ctx, role: 'owner' });
      expect(await memberRole(p.ctx)).toBe(yes ? 'owner' : 'developer');
    } },
  { action: 'change owners', method: 'POST', route: '/orgs/{orgId}/invitations (role owner)', allowed: OWNERS, ok: 201,
    prepare: async (role) => ({ url: `/orgs/${T.orgId}/invitations`, body: { email: uniqueEmail(`owner-invitee-${role}`), role: 'owner' } }),
    verify: async (yes, r, p) => {
      const email = (p.body as { email: string }).email;
      if (yes) expect(r.body.invitation).toMatchObject({ email, role: 'owner' });
      const list = await call('GET', `/orgs/${T.orgId}/invitations`, as(owner));
      expect(list.body.invitations.some((i: { email: string }) => i.email === email)).toBe(yes);
    } },
  { action: 'remove owners', method: 'DELETE', route: "/orgs/{orgId}/members/{userId} (an owner's membership)", allowed: OWNERS, ok: 204,
    prepare: async () => { const m = await freshMember('owner'); return { url: `/orgs/${T.orgId}/members/${m.userId}`, ctx: m.userId }; },
    verify: async (yes, _r, p) => { expect(await memberRole(p.ctx)).toBe(yes ? undefined : 'owner'); } },
  { action: 'rename the org', method: 'PATCH', route: '/orgs/{orgId}', allowed: OWNERS, ok: 200,
    prepare: async (role) => ({ url: `/orgs/${T.orgId}`, body: { name: `renamed by ${role}` } }),
    verify: async (yes, r, p) => {
      const name = (p.body as { name: string }).name;
      if (yes) expect(r.body.org).toMatchObject({ id: T.orgId, name });
      const orgs = await call('GET', '/orgs', as(owner));
      expect(orgs.body.orgs.find((o: { id: string }) => o.id === T.orgId).name === name).toBe(yes);
    } },
];

const cases = rows.flatMap((row) => ROLES.map((role) => ({ ...row, role, expected: row.allowed.includes(role) ? row.ok : 403 })));

describe('the role table (CONTRACT.md "Orgs, members, roles"), row by row for each role', () => {
  it('covers every role for every row', () => {
    expect(cases).toHaveLength(rows.length * 4);
    for (const row of rows) expect(row.allowed.length, `${row.method} ${row.route}`).toBeGreaterThan(0);
  });

  it.each(cases)('$action: $role $method $route → $expected', async (c) => {
    const allowed = c.allowed.includes(c.role);
    const p = await c.prepare(c.role);
    try {
      const who = p.caller ?? T.members[c.role];
      const r = await call(c.method, p.url, { token: who.accessToken, body: p.body });
      const what = `${c.role} ${c.method} ${p.url} (${c.route})`;
      expect(r.status, `${what} answered ${r.raw}`).toBe(c.expected);
      if (!allowed) expect(r.body, `${what} is refused with forbidden`).toMatchObject({ error: 'forbidden' });
      await c.verify?.(allowed, r, p, c.role);
    } finally {
      await c.after?.();
    }
  }, 60_000);
});

describe('around the table', () => {
  it("a role change applies at once to the member's sessions and API tokens", async () => {
    const m = await freshMember('developer');
    const token = (await apiToken(m, { name: 'dev-ci', scopes: ['read', 'deploy'] })).secret;
    const before = await call('POST', '/deploy', { token: m.accessToken, body: { name: redeployApp.name, image: 'acme/web:4', port: 8080 } });
    expect(before.status, `developer POST /deploy ${before.raw}`).toBe(202);
    await settle(call, redeployApp.id, before.body.deploymentId, owner.accessToken);
    const demote = await call('PATCH', `/orgs/${T.orgId}/members/${m.userId}`, { ...as(owner), body: { role: 'viewer' } });
    expect(demote.status, demote.raw).toBe(200);
    for (const [who, t] of [['session', m.accessToken], ['API token', token]] as const) {
      const r = await call('POST', '/deploy', { token: t, body: { name: redeployApp.name, image: 'acme/web:5', port: 8080 } });
      expect(r.status, `demoted to viewer, ${who}: POST /deploy ${r.raw}`).toBe(403);
      expect(r.body.error).toBe('forbidden');
      expect((await call('GET', `/apps/${redeployApp.id}`, { token: t })).status, `demoted to viewer, ${who}: GET /apps/{id}`).toBe(200);
    }
  });

  it('the last owner can neither be demoted nor leave: 409 conflict', async () => {
    const solo = await register(uniqueEmail('solo'));
    const org = await call('POST', '/orgs', { token: solo.accessToken, body: { name: 'solo' } });
    expect(org.status, org.raw).toBe(201);
    const me = await switchTo(solo, org.body.org.id);
    const demote = await call('PATCH', `/orgs/${me.orgId}/members/${me.userId}`, { token: me.accessToken, body: { role: 'admin' } });
    expect(demote.status, `last owner PATCH own role ${demote.raw}`).toBe(409);
    expect(demote.body.error).toBe('conflict');
    const leave = await call('DELETE', `/orgs/${me.orgId}/members/${me.userId}`, { token: me.accessToken });
    expect(leave.status, `last owner DELETE own membership ${leave.raw}`).toBe(409);
    expect(leave.body.error).toBe('conflict');
  });

  it('an admin cannot make themself owner', async () => {
    const m = await freshMember('admin');
    const r = await call('PATCH', `/orgs/${T.orgId}/members/${m.userId}`, { token: m.accessToken, body: { role: 'owner' } });
    expect(r.status, `admin PATCH own role → owner ${r.raw}`).toBe(403);
    expect(r.body.error).toBe('forbidden');
    expect(await memberRole(m.userId)).toBe('admin');
  });
});

describe('an org you are not in', () => {
  const orgRoutes: { method: string; route: string; url: () => string; body?: () => unknown }[] = [
    { method: 'GET', route: '/orgs/{orgId}/members', url: () => `/orgs/${T.orgId}/members` },
    { method: 'PATCH', route: '/orgs/{orgId}/members/{userId}', url: () => `/orgs/${T.orgId}/members/${T.members.developer.userId}`, body: () => ({ role: 'viewer' }) },
    { method: 'DELETE', route: '/orgs/{orgId}/members/{userId}', url: () => `/orgs/${T.orgId}/members/${T.members.viewer.userId}` },
    { method: 'DELETE', route: '/orgs/{orgId}/members/{own userId}', url: () => `/orgs/${T.orgId}/members/${T.outsider.userId}` },
    { method: 'POST', route: '/orgs/{orgId}/invitations', url: () => `/orgs/${T.orgId}/invitations`, body: () => ({ email: T.outsider.email, role: 'owner' }) },
    { method: 'GET', route: '/orgs/{orgId}/invitations', url: () => `/orgs/${T.orgId}/invitations` },
    { method: 'DELETE', route: '/orgs/{orgId}/invitations/{id}', url: () => `/orgs/${T.orgId}/invitations/inv_unknown` },
    { method: 'PATCH', route: '/orgs/{orgId}', url: () => `/orgs/${T.orgId}`, body: () => ({ name: 'taken over' }) },
    { method: 'POST', route: '/auth/switch-org', url: () => '/auth/switch-org', body: () => ({ orgId: T.orgId }) },
  ];

  it.each(orgRoutes)('the outsider: $method $route → 404 org_not_found', async (c) => {
    const r = await call(c.method, c.url(), { token: T.outsider.accessToken, body: c.body?.() });
    expect(r.status, `outsider ${c.method} ${c.url()}: ${r.raw}`).toBe(404);
    expect(r.body.error, `outsider ${c.method} ${c.url()}`).toBe('org_not_found');
  });

  it('an org that does not exist answers the same 404 org_not_found', async () => {
    for (const [method, url, body] of [['GET', '/orgs/org_nonexistent/members', undefined], ['POST', '/auth/switch-org', { orgId: 'org_nonexistent' }]] as const) {
      const r = await call(method, url, { token: T.outsider.accessToken, body });
      expect(r.status, `outsider ${method} ${url}: ${r.raw}`).toBe(404);
      expect(r.body.error).toBe('org_not_found');
    }
  });

  it('nothing changed in the team: members, invitations, name', async () => {
    const members = await call('GET', `/orgs/${T.orgId}/members`, as(owner));
    expect(members.body.members.map((m: { userId: string }) => m.userId)).not.toContain(T.outsider.userId);
    expect(await memberRole(T.members.developer.userId)).toBe('developer');
    expect(await memberRole(T.members.viewer.userId)).toBe('viewer');
    const invs = await call('GET', `/orgs/${T.orgId}/invitations`, as(owner));
    expect(invs.body.invitations.map((i: { email: string }) => i.email)).not.toContain(T.outsider.email);
    const orgs = await call('GET', '/orgs', as(owner));
    expect(orgs.body.orgs.find((o: { id: string }) => o.id === T.orgId).name).not.toBe('taken over');
  });

  /** Every app route, against the app `id` (with its deployment `dep`). */
  const appRoutes: { method: string; route: string; url: (id: string, dep: string) => string }[] = [
    { method: 'GET', route: '/apps/{id}', url: (id) => `/apps/${id}` },
    { method: 'GET', route: '/apps/{id}/logs', url: (id) => `/apps/${id}/logs` },
    { method: 'GET', route: '/apps/{id}/deployments/{depId}/logs', url: (id, dep) => `/apps/${id}/deployments/${dep}/logs` },
    { method: 'POST', route: '/apps/{id}/restart', url: (id) => `/apps/${id}/restart` },
    { method: 'POST', route: '/apps/{id}/stop', url: (id) => `/apps/${id}/stop` },
    { method: 'POST', route: '/apps/{id}/deployments/{depId}/cancel', url: (id, dep) => `/apps/${id}/deployments/${dep}/cancel` },
    { method: 'POST', route: '/apps/{id}/webhook/rotate', url: (id) => `/apps/${id}/webhook/rotate` },
    { method: 'DELETE', route: '/apps/{id}', url: (id) => `/apps/${id}` },
  ];

  const credentials: { who: string; token: () => Promise<string> }[] = [
    { who: "the outsider's session", token: async () => T.outsider.accessToken },
    { who: "an API token of the outsider's own org (read, deploy, secrets, manage)", token: async () => (await apiToken(T.outsider, { name: 'outsider-ci', scopes: ['read', 'deploy', 'secrets', 'manage'] })).secret },
  ];

  it.each(credentials)("$who gets 404 app_not_found on every route of the team's apps", async (c) => {
    const token = await c.token();
    for (const r0 of appRoutes) {
      const url = r0.url(appId, depId);
      const r = await call(r0.method, url, { token });
      expect(r.status, `${c.who}: ${r0.method} ${url} answered ${r.raw}`).toBe(404);
      expect(r.body.error, `${c.who}: ${r0.method} ${url}`).toBe('app_not_found');
    }
    // The team's apps are not in its list, and the app still runs, untouched.
    const list = await call('GET', '/apps', { token });
    expect(list.status, `${c.who}: GET /apps ${list.raw}`).toBe(200);
    expect(list.body.apps.map((a: { id: string }) => a.id)).not.toContain(appId);
    const app = await call('GET', `/apps/${appId}`, as(owner));
    expect(app.body.app.status).toBe('running');
    expect(app.body.deployments.find((d: { id: string }) => d.id === depId).status).toBe('succeeded');
  });

  it("a team API token scoped to one app gets 403 forbidden on every route of the org's other apps, and reaches its own", async () => {
    const scoped = (await apiToken(owner, { name: 'one-app', scopes: ['read', 'deploy', 'secrets', 'manage'], appId })).secret;
    for (const r0 of appRoutes) {
      const url = r0.url(otherAppId, otherDepId);
      const r = await call(r0.method, url, { token: scoped });
      expect(r.status, `app-scoped token: ${r0.method} ${url} answered ${r.raw}`).toBe(403);
      expect(r.body.error, `app-scoped token: ${r0.method} ${url}`).toBe('forbidden');
    }
    const redeploy = await call('POST', '/deploy', { token: scoped, body: { name: redeployApp.name, image: 'acme/web:9', port: 8080 } });
    expect(redeploy.status, `app-scoped token: POST /deploy of another app answered ${redeploy.raw}`).toBe(403);
    expect(redeploy.body.error).toBe('forbidden');
    const create = await call('POST', '/deploy', { token: scoped, body: { name: name('by-scoped'), image: 'acme/web:1', port: 8080 } });
    expect(create.status, `app-scoped token: POST /deploy of a new app answered ${create.raw}`).toBe(403);
    expect(create.body.error).toBe('forbidden');
    expect(await appExists(otherAppId)).toBe(true);
    expect((await call('GET', `/apps/${otherAppId}`, as(owner))).body.app.status).toBe('running');
    // Its own app it reaches.
    const own = await call('GET', `/apps/${appId}`, { token: scoped });
    expect(own.status, `app-scoped token: GET /apps/${appId} ${own.raw}`).toBe(200);
    const logs = await call('GET', `/apps/${appId}/deployments/${depId}/logs`, { token: scoped });
    expect(logs.status, `app-scoped token: GET /apps/${appId}/deployments/${depId}/logs ${logs.raw}`).toBe(200);
  });
});
