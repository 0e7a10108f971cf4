// orgs, members, invitations, switching orgs and the audit logs, against a live server (no Docker needed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, MemoryTokenStore, type CynchroClient, type Org } from '../src/index.js';
import { email } from './helpers.js';

let server: LiveServer;
const people = {
  alice: { email: email('alice'), password: 'alice password' },
  bob: { email: email('bob'), password: 'bob password 1' },
  carol: { email: email('carol'), password: 'carol password' },
  mallory: { email: email('mallory'), password: 'mallory password' },
};
let alice: CynchroClient;
let bob: CynchroClient;
let carol: CynchroClient;
let mallory: CynchroClient;
let bobStore: MemoryTokenStore;
let acme: Org;
let bobInvitation: string;

beforeAll(async () => {
  server = await startLiveServer({ ADMIN_EMAILS: people.alice.email });
  alice = createClient({ url: server.url });
  bobStore = new MemoryTokenStore();
  bob = createClient({ url: server.url, store: bobStore });
  carol = createClient({ url: server.url });
  mallory = createClient({ url: server.url });
  await alice.auth.register({ ...people.alice, name: 'Alice' });
  await bob.auth.register({ ...people.bob, name: 'Bob' });
  await carol.auth.register(people.carol);
  await mallory.auth.register(people.mallory);
});
afterAll(async () => {
  await server?.stop();
});

describe('orgs', () => {
  it('register makes a personal org; create adds a team org you own; rename (owners)', async () => {
    const [personal] = await alice.orgs.list();
    expect(personal).toMatchObject({ role: 'owner', personal: true });
    acme = await alice.orgs.create('Acme');
    expect(acme).toMatchObject({ name: 'Acme', role: 'owner', personal: false });
    expect(acme.id).not.toBe(personal!.id);
    expect((await alice.orgs.list()).map((o) => o.id).sort()).toEqual([personal!.id, acme.id].sort());
    const renamed = await alice.orgs.rename(acme.id, 'Acme Inc');
    expect(renamed).toMatchObject({ id: acme.id, name: 'Acme Inc', role: 'owner' });
    expect((await alice.orgs.list()).find((o) => o.id === acme.id)?.name).toBe('Acme Inc');
    const v = (await alice.orgs.create('').catch((e: unknown) => e)) as CynchroError;
    expect(v).toMatchObject({ code: 'validation', status: 400 });
    expect(v.fieldErrors.name).toBeDefined();
  });

  it("an org you are not in is org_not_found, whatever the call", async () => {
    await expect(mallory.orgs.members(acme.id)).rejects.toMatchObject({ code: 'org_not_found', status: 404 });
    await expect(mallory.orgs.rename(acme.id, 'Mine')).rejects.toMatchObject({ code: 'org_not_found' });
    await expect(mallory.auth.switchOrg(acme.id)).rejects.toMatchObject({ code: 'org_not_found', status: 404 });
    await expect(mallory.orgs.members('org_doesnotexist')).rejects.toMatchObject({ code: 'org_not_found' });
  });
});

describe('members and invitations', () => {
  it('invite (the token once), list pending invitations, revoke one', async () => {
    const inv = await alice.orgs.invite(acme.id, { email: people.bob.email, role: 'developer' });
    expect(inv.invitation).toMatchObject({ email: people.bob.email.toLowerCase(), role: 'developer' });
    expect(Date.parse(inv.invitation.expiresAt) - Date.now()).toBeGreaterThan(6.9 * 24 * 3600 * 1000);
    expect(inv.token.length).toBeGreaterThanOrEqual(32);
    bobInvitation = inv.token;
    const other = await alice.orgs.invite(acme.id, { email: people.carol.email, role: 'viewer' });
    const pending = await alice.orgs.invitations(acme.id);
    expect(pending.map((i) => i.id).sort()).toEqual([inv.invitation.id, other.invitation.id].sort());
    expect(JSON.stringify(pending)).not.toContain(inv.token);
    await alice.orgs.revokeInvitation(acme.id, other.invitation.id);
    expect((await alice.orgs.invitations(acme.id)).map((i) => i.id)).toEqual([inv.invitation.id]);
    await expect(alice.orgs.revokeInvitation(acme.id, other.invitation.id)).rejects.toMatchObject({ code: 'invitation_not_found', status: 404 });
    await expect(carol.invitations.accept(other.token)).rejects.toMatchObject({ code: 'invitation_not_found' });
    await expect(alice.orgs.invite(acme.id, { email: people.alice.email, role: 'viewer' })).rejects.toMatchObject({ code: 'conflict', status: 409 });
  });

  it('only the invited email accepts, once', async () => {
    await expect(mallory.invitations.accept(bobInvitation)).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(bob.invitations.accept('cyninv_not-a-real-invitation-token')).rejects.toMatchObject({ code: 'invitation_not_found' });
    expect(await bob.invitations.accept(bobInvitation)).toEqual({ orgId: acme.id, role: 'developer' });
    await expect(bob.invitations.accept(bobInvitation)).rejects.toMatchObject({ code: 'invitation_not_found', status: 404 });
    expect(await alice.orgs.invitations(acme.id)).toEqual([]);
    expect((await bob.orgs.list()).find((o) => o.id === acme.id)).toMatchObject({ role: 'developer', personal: false });
    const members = await alice.orgs.members(acme.id);
    expect(members.map((m) => [m.email, m.role]).sort()).toEqual([[people.alice.email.toLowerCase(), 'owner'], [people.bob.email.toLowerCase(), 'developer']].sort());
    expect(members.find((m) => m.role === 'owner')).toMatchObject({ name: 'Alice' });
  });

  it('switchOrg stores the new session (like a login); me answers the org acted in and the role there', async () => {
    const before = bobStore.load()!;
    const r = await bob.auth.switchOrg(acme.id);
    expect(r).toMatchObject({ orgId: acme.id, user: { email: people.bob.email.toLowerCase() } });
    expect(bobStore.load()).toEqual({ accessToken: r.accessToken, refreshToken: r.refreshToken });
    expect(bobStore.load()!.accessToken).not.toBe(before.accessToken);
    expect(await bob.auth.me()).toMatchObject({ orgId: acme.id, role: 'developer' });
  });

  it('developers read members but cannot invite or change roles; setRole by an owner; the last owner stays', async () => {
    expect((await bob.orgs.members(acme.id)).length).toBe(2);
    await expect(bob.orgs.invite(acme.id, { email: people.carol.email, role: 'viewer' })).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await expect(bob.orgs.invitations(acme.id)).rejects.toMatchObject({ code: 'forbidden' });
    const meBob = (await alice.orgs.members(acme.id)).find((m) => m.email === people.bob.email.toLowerCase())!;
    const aliceId = (await alice.orgs.members(acme.id)).find((m) => m.role === 'owner')!.userId;
    await expect(bob.orgs.setRole(acme.id, meBob.userId, 'admin')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(bob.orgs.rename(acme.id, 'Bobco')).rejects.toMatchObject({ code: 'forbidden' });
    expect(await alice.orgs.setRole(acme.id, meBob.userId, 'admin')).toMatchObject({ userId: meBob.userId, role: 'admin' });
    expect((await bob.orgs.list()).find((o) => o.id === acme.id)?.role).toBe('admin');
    // Admins do not touch owners; the last owner cannot be demoted.
    await expect(bob.orgs.setRole(acme.id, aliceId, 'viewer')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(alice.orgs.setRole(acme.id, aliceId, 'admin')).rejects.toMatchObject({ code: 'conflict', status: 409 });
    await expect(alice.orgs.leave(acme.id)).rejects.toMatchObject({ code: 'conflict', status: 409 });
    await expect(alice.orgs.setRole(acme.id, aliceId, 'superuser' as never)).rejects.toMatchObject({ code: 'validation' });
  });

  it('owners and admins remove members; anyone leaves; a removed session acting in the org stops at once', async () => {
    const inv = await bob.orgs.invite(acme.id, { email: people.carol.email, role: 'viewer' }); // bob is an admin now
    expect(await carol.invitations.accept(inv.token)).toEqual({ orgId: acme.id, role: 'viewer' });
    const carolId = (await alice.orgs.members(acme.id)).find((m) => m.email === people.carol.email.toLowerCase())!.userId;
    await alice.orgs.removeMember(acme.id, carolId);
    expect((await alice.orgs.members(acme.id)).map((m) => m.userId)).not.toContain(carolId);
    expect((await carol.orgs.list()).map((o) => o.id)).not.toContain(acme.id);

    // bob acts in acme (switched above): leaving ends that session.
    await bob.orgs.leave(acme.id);
    expect((await alice.orgs.members(acme.id)).map((m) => m.email)).toEqual([people.alice.email.toLowerCase()]);
    await expect(bob.orgs.list()).rejects.toMatchObject({ code: 'invalid_or_expired_token', status: 401 });
    await expect(alice.orgs.removeMember(acme.id, carolId)).rejects.toMatchObject({ status: 404 });
  });
});

describe('audit', () => {
  it('the org log, newest first, paged with nextCursor; owners and admins only', async () => {
    // alice acts in her personal org: her session switches to acme to read acme's log.
    await alice.auth.switchOrg(acme.id);
    const all = await alice.audit.list({ limit: 100 });
    const actions = all.events.map((e) => e.action);
    for (const a of ['member.invite', 'member.join', 'member.role', 'member.remove']) expect(actions).toContain(a);
    expect(all.events.every((e) => ['ok', 'denied', 'failed'].includes(e.outcome))).toBe(true);
    const times = all.events.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const join = all.events.find((e) => e.action === 'member.join' && e.actor.email === people.bob.email.toLowerCase())!;
    expect(join).toMatchObject({ outcome: 'ok', actor: { tokenId: null } });
    expect(join.ip).toBeTruthy();
    // bob's refused invite is recorded as denied.
    expect(all.events.some((e) => e.action === 'member.invite' && e.outcome === 'denied' && e.actor.email === people.bob.email.toLowerCase())).toBe(true);
    // No invitation token ever appears.
    expect(JSON.stringify(all)).not.toContain(bobInvitation);

    const first = await alice.audit.list({ limit: 2 });
    expect(first.events.map((e) => e.id)).toEqual(all.events.slice(0, 2).map((e) => e.id));
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await alice.audit.list({ limit: 2, before: first.nextCursor! });
    expect(second.events.map((e) => e.id)).toEqual(all.events.slice(2, 4).map((e) => e.id));
    expect(all.nextCursor).toBeNull();
    await expect(alice.audit.list({ limit: 0 })).rejects.toMatchObject({ code: 'validation' });

    // A viewer may not read it.
    const inv = await alice.orgs.invite(acme.id, { email: people.mallory.email, role: 'viewer' });
    await mallory.invitations.accept(inv.token);
    await mallory.auth.switchOrg(acme.id);
    await expect(mallory.audit.list()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
  });

  it("admin.audit is the operators' own log; others are forbidden", async () => {
    await expect(alice.admin.audit()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    await alice.admin.claim(readOperatorToken(server.dataDir));
    const page = await alice.admin.audit({ limit: 50 });
    expect(page.events.map((e) => e.action)).toContain('operator.claim');
    expect(page.events.map((e) => e.action)).not.toContain('member.invite');
    await expect(mallory.admin.audit()).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('errors', () => {
  it('org calls without a session are missing_bearer_token', async () => {
    const anon = createClient({ url: server.url, tokens: undefined, store: new MemoryTokenStore() });
    const err = (await anon.orgs.list().catch((e: unknown) => e)) as CynchroError;
    expect(err).toBeInstanceOf(CynchroError);
    expect(err).toMatchObject({ code: 'missing_bearer_token', status: 401 });
  });
});
