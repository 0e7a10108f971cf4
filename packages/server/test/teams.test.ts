// CONTRACT.md "Orgs, members, roles": team orgs, invitations, switching orgs, the last-owner rules, and a removed
// member's sessions, tokens and live streams stopping at once. A real server on the fake engine.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, uniqueEmail, type Harness } from './harness.js';
import { openLogStream, teams } from './teams-helpers.js';
import { ADMIN_ENV, newMasterKey } from './vault-helpers.js';
import { until } from './wait.js';

let h: Harness;
let wsBase: string;
const t = teams(() => h);
const { call, register } = t;
let n = 0;
const appName = () => `tm-${++n}-${process.pid % 1000}`;

beforeAll(async () => {
  h = await startHarness({ QUOTA_MAX_APPS: '100', MAX_ORGS_PER_USER: '3' });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  wsBase = `ws://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h.close();
});

const stream = (appId: string, token: string) => openLogStream(wsBase, appId, token);

describe('orgs', () => {
  it('a new account has its personal org; a team org is created with its creator as owner and listed with roles', async () => {
    const u = await register();
    const mine = await call('GET', '/orgs', { token: u.accessToken });
    expect(mine.status).toBe(200);
    expect(mine.body.orgs).toEqual([{ id: u.orgId, name: expect.any(String), role: 'owner', personal: true }]);
    const created = await call('POST', '/orgs', { token: u.accessToken, body: { name: '  Acme  ' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ org: { id: expect.stringMatching(/^org_/), name: 'Acme', role: 'owner', personal: false } });
    const both = await call('GET', '/orgs', { token: u.accessToken });
    expect(both.body.orgs.map((o: { id: string }) => o.id)).toEqual([u.orgId, created.body.org.id]);
    expect((await call('POST', '/orgs', { token: u.accessToken, body: { name: '' } })).body.error).toBe('validation');
  });

  it('caps the team orgs one person owns (each org has its own quotas)', async () => {
    const u = await register();
    for (let i = 0; i < 3; i++) expect((await call('POST', '/orgs', { token: u.accessToken, body: { name: `o${i}` } })).status).toBe(201);
    const over = await call('POST', '/orgs', { token: u.accessToken, body: { name: 'one too many' } });
    expect(over.status).toBe(403);
    expect(over.body.error).toBe('quota_exceeded');
  });

  it('switch-org answers like login, in the new org; an org you are not in is 404 org_not_found', async () => {
    const { orgId, members, outsider } = await t.team();
    const me = await call('GET', '/auth/me', { token: members.viewer.accessToken });
    expect(me.body).toMatchObject({ orgId, role: 'viewer' });
    const denied = await call('POST', '/auth/switch-org', { token: outsider.accessToken, body: { orgId } });
    expect(denied.status).toBe(404);
    expect(denied.body.error).toBe('org_not_found');
    const unknown = await call('POST', '/auth/switch-org', { token: outsider.accessToken, body: { orgId: 'org_nope' } });
    expect(unknown.body.error).toBe('org_not_found');
    // Back to the personal org: a new session, shaped like a login.
    const personal = (await call('GET', '/orgs', { token: members.viewer.accessToken })).body.orgs.find((o: { personal: boolean }) => o.personal);
    const back = await call('POST', '/auth/switch-org', { token: members.viewer.accessToken, body: { orgId: personal.id } });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ orgId: personal.id, user: { email: members.viewer.email }, accessToken: expect.any(String), refreshToken: expect.any(String), expiresIn: 900 });
    expect((await call('GET', '/auth/me', { token: back.body.accessToken })).body).toMatchObject({ orgId: personal.id, role: 'owner' });
    // The refreshed session stays in its org.
    const refreshed = await call('POST', '/auth/refresh', { body: { refreshToken: back.body.refreshToken } });
    expect(refreshed.body.orgId).toBe(personal.id);
  });

  it('apps belong to the org a session acts in', async () => {
    const { orgId, members } = await t.team();
    const appId = await t.deployApp(members.developer, appName());
    const personal = await register();
    expect((await call('GET', `/apps/${appId}`, { token: members.viewer.accessToken })).status).toBe(200);
    const elsewhere = await call('GET', `/apps/${appId}`, { token: personal.accessToken });
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.error).toBe('app_not_found');
    const listed = await call('GET', '/apps', { token: members.owner.accessToken });
    expect(listed.body.apps.map((a: { id: string; orgId?: string }) => a.id)).toContain(appId);
    expect(orgId).toBe(members.owner.orgId);
  });

  it('lists members with their roles; the owner renames the org', async () => {
    const { orgId, members } = await t.team('before');
    const r = await call('GET', `/orgs/${orgId}/members`, { token: members.viewer.accessToken });
    expect(r.status).toBe(200);
    expect(r.body.members.map((m: { email: string; role: string }) => [m.email, m.role])).toEqual([
      [members.owner.email, 'owner'],
      [members.admin.email, 'admin'],
      [members.developer.email, 'developer'],
      [members.viewer.email, 'viewer'],
    ]);
    expect(r.body.members[0]).toEqual({ userId: members.owner.userId, email: members.owner.email, name: null, role: 'owner', joinedAt: expect.any(String) });
    const renamed = await call('PATCH', `/orgs/${orgId}`, { token: members.owner.accessToken, body: { name: 'after' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.org).toMatchObject({ id: orgId, name: 'after', role: 'owner' });
    expect((await call('GET', '/orgs', { token: members.viewer.accessToken })).body.orgs.find((o: { id: string }) => o.id === orgId).name).toBe('after');
  });
});

describe('invitations', () => {
  it('only the invited address accepts, once; another account trying does not use it up', async () => {
    const { orgId, members } = await t.team();
    const invitee = await register(uniqueEmail('invitee'));
    const stranger = await register(uniqueEmail('stranger'));
    const inv = await call('POST', `/orgs/${orgId}/invitations`, { token: members.admin.accessToken, body: { email: invitee.email.toUpperCase(), role: 'developer' } });
    expect(inv.status).toBe(201);
    expect(inv.body.invitation).toEqual({ id: expect.stringMatching(/^inv_/), email: invitee.email, role: 'developer', expiresAt: expect.any(String) });
    expect(Date.parse(inv.body.invitation.expiresAt) - Date.now()).toBeGreaterThan(7 * 86_400_000 - 60_000);
    const pending = await call('GET', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken });
    expect(pending.body.invitations).toEqual([inv.body.invitation]);
    expect(pending.raw).not.toContain(inv.body.token);

    const wrong = await call('POST', '/invitations/accept', { token: stranger.accessToken, body: { token: inv.body.token } });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe('forbidden');
    const ok = await call('POST', '/invitations/accept', { token: invitee.accessToken, body: { token: inv.body.token } });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ orgId, role: 'developer' });
    const again = await call('POST', '/invitations/accept', { token: invitee.accessToken, body: { token: inv.body.token } });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('invitation_not_found');
    expect((await call('GET', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken })).body.invitations).toEqual([]);
    expect((await call('GET', '/orgs', { token: invitee.accessToken })).body.orgs.find((o: { id: string }) => o.id === orgId)).toEqual({ id: orgId, name: 'team', role: 'developer', personal: false });
    // A stranger with a made-up token learns nothing either.
    expect((await call('POST', '/invitations/accept', { token: stranger.accessToken, body: { token: 'cyninv_nope' } })).body.error).toBe('invitation_not_found');
  });

  it('expires after 7 days; a withdrawn or replaced invitation stops working', async () => {
    const { orgId, members } = await t.team();
    const a = await register(uniqueEmail('late'));
    const inv = await call('POST', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken, body: { email: a.email, role: 'viewer' } });
    h.clock.advance(7 * 86_400_000 + 1000);
    try {
      const late = await call('POST', '/invitations/accept', { token: (await t.login(a.email)).accessToken, body: { token: inv.body.token } });
      expect(late.status).toBe(404);
      expect(late.body.error).toBe('invitation_not_found');
      expect((await call('GET', `/orgs/${orgId}/invitations`, { token: (await t.login(members.owner.email).then((o) => t.switchTo(o, orgId))).accessToken })).body.invitations).toEqual([]);
    } finally {
      h.clock.advance(-(7 * 86_400_000 + 1000));
    }
    const first = await call('POST', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken, body: { email: a.email, role: 'viewer' } });
    const second = await call('POST', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken, body: { email: a.email, role: 'admin' } });
    expect((await call('POST', '/invitations/accept', { token: a.accessToken, body: { token: first.body.token } })).body.error).toBe('invitation_not_found');
    const gone = await call('DELETE', `/orgs/${orgId}/invitations/${second.body.invitation.id}`, { token: members.admin.accessToken });
    expect(gone.status).toBe(204);
    expect(gone.raw).toBe('');
    expect((await call('POST', '/invitations/accept', { token: a.accessToken, body: { token: second.body.token } })).body.error).toBe('invitation_not_found');
    expect((await call('DELETE', `/orgs/${orgId}/invitations/${second.body.invitation.id}`, { token: members.admin.accessToken })).body.error).toBe('invitation_not_found');
  });

  it('refuses inviting a member again (409) and owners by non-owners (403)', async () => {
    const { orgId, members } = await t.team();
    const dup = await call('POST', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken, body: { email: members.viewer.email, role: 'admin' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toBe('conflict');
    const owner = await call('POST', `/orgs/${orgId}/invitations`, { token: members.admin.accessToken, body: { email: uniqueEmail(), role: 'owner' } });
    expect(owner.status).toBe(403);
    expect((await call('POST', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken, body: { email: uniqueEmail(), role: 'owner' } })).status).toBe(201);
    expect((await call('POST', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken, body: { email: 'not-an-email', role: 'viewer' } })).body.error).toBe('validation');
    expect((await call('POST', `/orgs/${orgId}/invitations`, { token: members.owner.accessToken, body: { email: uniqueEmail(), role: 'member' } })).body.error).toBe('validation');
  });

  it('opens registration to the invited address when ALLOW_REGISTRATION=false', async () => {
    const closed = await startHarness({ ALLOW_REGISTRATION: 'false' });
    try {
      const c = teams(() => closed);
      // The first account on a closed server exists already (made directly, as an operator would with a CLI).
      const ownerEmail = uniqueEmail('owner');
      const hash = await closed.deps.passwords.hash('correct horse battery');
      await closed.deps.db.transaction().execute(async (tx) => {
        await tx.insertInto('users').values({ id: 'usr_owner', email: ownerEmail, name: null, password_hash: hash, created_at: new Date().toISOString() }).execute();
        await tx.insertInto('orgs').values({ id: 'org_closed', name: 'closed', created_at: new Date().toISOString(), personal_user_id: 'usr_owner' }).execute();
        await tx.insertInto('org_members').values({ org_id: 'org_closed', user_id: 'usr_owner', role: 'owner', created_at: new Date().toISOString() }).execute();
      });
      const owner = await c.login(ownerEmail);
      const email = uniqueEmail('newcomer');
      expect((await c.call('POST', '/auth/register', { body: { email, password: 'correct horse battery' } })).status).toBe(403);
      const inv = await c.call('POST', '/orgs/org_closed/invitations', { token: owner.accessToken, body: { email, role: 'developer' } });
      expect(inv.status).toBe(201);
      const other = await c.call('POST', '/auth/register', { body: { email: uniqueEmail('other'), password: 'correct horse battery', invitation: inv.body.token } });
      expect(other.status).toBe(403);
      const reg = await c.call('POST', '/auth/register', { body: { email, password: 'correct horse battery', invitation: inv.body.token } });
      expect(reg.status, reg.raw).toBe(200);
      const orgs = (await c.call('GET', '/orgs', { token: reg.body.accessToken })).body.orgs;
      expect(orgs.map((o: { id: string; role: string; personal: boolean }) => [o.role, o.personal])).toEqual([
        ['owner', true],
        ['developer', false],
      ]);
      expect((await c.call('POST', '/auth/register', { body: { email: uniqueEmail('again'), password: 'correct horse battery', invitation: inv.body.token } })).body.error).toBe('invitation_not_found');
    } finally {
      await closed.close();
    }
  });
});

describe('roles and the last owner', () => {
  it('the last owner can be neither demoted nor removed, nor leave; with two owners, one can', async () => {
    const { orgId, members } = await t.team();
    const demote = await call('PATCH', `/orgs/${orgId}/members/${members.owner.userId}`, { token: members.owner.accessToken, body: { role: 'admin' } });
    expect(demote.status).toBe(409);
    expect(demote.body.error).toBe('conflict');
    const leave = await call('DELETE', `/orgs/${orgId}/members/${members.owner.userId}`, { token: members.owner.accessToken });
    expect(leave.status).toBe(409);
    // An admin may not touch an owner at all.
    expect((await call('PATCH', `/orgs/${orgId}/members/${members.owner.userId}`, { token: members.admin.accessToken, body: { role: 'viewer' } })).status).toBe(403);
    expect((await call('DELETE', `/orgs/${orgId}/members/${members.owner.userId}`, { token: members.admin.accessToken })).status).toBe(403);
    expect((await call('PATCH', `/orgs/${orgId}/members/${members.developer.userId}`, { token: members.admin.accessToken, body: { role: 'owner' } })).status).toBe(403);
    // A second owner: now the first may step down, and the second is the last.
    const promoted = await call('PATCH', `/orgs/${orgId}/members/${members.admin.userId}`, { token: members.owner.accessToken, body: { role: 'owner' } });
    expect(promoted.status).toBe(200);
    expect(promoted.body.member).toMatchObject({ userId: members.admin.userId, role: 'owner' });
    expect((await call('PATCH', `/orgs/${orgId}/members/${members.owner.userId}`, { token: members.owner.accessToken, body: { role: 'developer' } })).status).toBe(200);
    expect((await call('DELETE', `/orgs/${orgId}/members/${members.admin.userId}`, { token: members.admin.accessToken })).status).toBe(409);
    // The two racing to demote each other: exactly one owner remains.
    const again = await call('PATCH', `/orgs/${orgId}/members/${members.owner.userId}`, { token: members.admin.accessToken, body: { role: 'owner' } });
    expect(again.status).toBe(200);
    const owner2 = await t.login(members.owner.email).then((u) => t.switchTo(u, orgId));
    const [a, b] = await Promise.all([
      call('PATCH', `/orgs/${orgId}/members/${members.admin.userId}`, { token: owner2.accessToken, body: { role: 'viewer' } }),
      call('PATCH', `/orgs/${orgId}/members/${members.owner.userId}`, { token: members.admin.accessToken, body: { role: 'viewer' } }),
    ]);
    // Whoever lands second is either no owner any more (403) or the last one (409): never both demoted.
    expect([a.status, b.status].filter((s) => s === 200)).toHaveLength(1);
    expect([a.status, b.status].every((s) => s === 200 || s === 403 || s === 409)).toBe(true);
    const owners = (await call('GET', `/orgs/${orgId}/members`, { token: members.viewer.accessToken })).body.members.filter((m: { role: string }) => m.role === 'owner');
    expect(owners).toHaveLength(1);
  });

  it('a personal org keeps its person; unknown members are 404', async () => {
    const u = await register();
    const friend = await register();
    await t.join(u, u.orgId, friend, 'owner');
    const out = await call('DELETE', `/orgs/${u.orgId}/members/${u.userId}`, { token: (await t.login(friend.email).then((f) => t.switchTo(f, u.orgId))).accessToken });
    expect(out.status).toBe(409);
    for (const r of [
      await call('DELETE', `/orgs/${u.orgId}/members/usr_nobody`, { token: u.accessToken }),
      await call('PATCH', `/orgs/${u.orgId}/members/usr_nobody`, { token: u.accessToken, body: { role: 'viewer' } }),
    ]) {
      expect(r.status).toBe(404);
      expect(r.body.error).toBe('member_not_found');
    }
  });

  it('a role change applies to the very next request', async () => {
    const { orgId, members } = await t.team();
    const name = appName();
    await t.deployApp(members.developer, name);
    const down = await call('PATCH', `/orgs/${orgId}/members/${members.developer.userId}`, { token: members.admin.accessToken, body: { role: 'viewer' } });
    expect(down.status).toBe(200);
    const refused = await call('POST', '/deploy', { token: members.developer.accessToken, body: { name, image: 'acme/web:2', port: 8080 } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('forbidden');
    expect((await call('GET', '/auth/me', { token: members.developer.accessToken })).body.role).toBe('viewer');
  });
});

describe('removing a member', () => {
  it('stops their sessions, API tokens and live streams in that org at once; their other orgs are untouched', async () => {
    const { orgId, members } = await t.team();
    const dev = members.developer;
    const appId = await t.deployApp(dev, appName());
    const tok = await t.apiToken(dev, { scopes: ['read', 'deploy'] });
    const bySession = await stream(appId, dev.accessToken);
    const byToken = await stream(appId, tok.secret);
    expect(bySession.ready && byToken.ready).toBe(true);
    const personal = await t.login(dev.email); // acts in their personal org

    const removed = await call('DELETE', `/orgs/${orgId}/members/${dev.userId}`, { token: members.admin.accessToken });
    expect(removed.status).toBe(204);
    expect(removed.raw).toBe('');
    await until('both streams to close with 4401', () => bySession.closed?.code === 4401 && byToken.closed?.code === 4401);
    for (const token of [dev.accessToken, tok.secret]) {
      const r = await call('GET', `/apps/${appId}`, { token });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_or_expired_token');
    }
    expect((await call('POST', '/auth/switch-org', { token: personal.accessToken, body: { orgId } })).body.error).toBe('org_not_found');
    expect((await call('GET', '/auth/me', { token: personal.accessToken })).status).toBe(200);
    // Invited back, the old session and token stay dead: removal revoked them.
    await t.join(members.owner, orgId, personal, 'developer');
    expect((await call('GET', `/apps/${appId}`, { token: dev.accessToken })).status).toBe(401);
    expect((await call('GET', `/apps/${appId}`, { token: tok.secret })).status).toBe(401);
  });

  it("a removed member's refresh token is refused too: they sign in again, in their own org", async () => {
    const { orgId, members } = await t.team();
    const u = await t.login(members.viewer.email).then((x) => t.switchTo(x, orgId));
    const session = await call('POST', '/auth/switch-org', { token: u.accessToken, body: { orgId } });
    expect((await call('DELETE', `/orgs/${orgId}/members/${u.userId}`, { token: members.owner.accessToken })).status).toBe(204);
    const r = await call('POST', '/auth/refresh', { body: { refreshToken: session.body.refreshToken } });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_or_expired_token');
    const again = await t.login(members.viewer.email);
    expect(again.orgId).not.toBe(orgId);
    expect((await call('GET', '/auth/me', { token: again.accessToken })).body.role).toBe('owner');
  });

  it('anyone may leave; a viewer may not remove others', async () => {
    const { orgId, members } = await t.team();
    expect((await call('DELETE', `/orgs/${orgId}/members/${members.developer.userId}`, { token: members.viewer.accessToken })).status).toBe(403);
    const left = await call('DELETE', `/orgs/${orgId}/members/${members.viewer.userId}`, { token: members.viewer.accessToken });
    expect(left.status).toBe(204);
    expect((await call('GET', '/apps', { token: members.viewer.accessToken })).status).toBe(401);
    const list = (await call('GET', `/orgs/${orgId}/members`, { token: members.owner.accessToken })).body.members;
    expect(list.map((m: { userId: string }) => m.userId)).not.toContain(members.viewer.userId);
  });
});

describe('what a viewer sees', () => {
  it('a repo app’s webhook secret is withheld from those who may not deploy', async () => {
    // Repo apps need the vault (their webhook secret is sealed): a server with an operator who unseals it.
    const v = await startHarness({ ...ADMIN_ENV, GIT_ALLOW_HOSTS: 'git.example.com' });
    try {
      const c = teams(() => v);
      const admin = await c.operator();
      expect((await c.unseal(admin, newMasterKey())).status).toBe(200);
      const team = await c.team();
      const r = await c.call('POST', '/deploy', { token: team.members.developer.accessToken, body: { name: appName(), repo: 'http://git.example.com/acme/api.git', port: 8080 } });
      expect(r.status, r.raw).toBe(202);
      const secret = r.body.webhook.secret as string;
      expect(secret).toMatch(/\S{20,}/);
      const dev = await c.call('GET', `/apps/${r.body.appId}`, { token: team.members.developer.accessToken });
      expect(dev.body.webhook.secret).toBe(secret);
      const viewer = await c.call('GET', `/apps/${r.body.appId}`, { token: team.members.viewer.accessToken });
      expect(viewer.body.webhook).toMatchObject({ url: dev.body.webhook.url, secret: null });
      const readOnly = (await c.apiToken(team.members.owner, { scopes: ['read'] })).secret;
      const byToken = await c.call('GET', `/apps/${r.body.appId}`, { token: readOnly });
      expect(byToken.body.webhook.secret).toBeNull();
      expect(byToken.raw).not.toContain(secret);
    } finally {
      await v.close();
    }
  });
});
