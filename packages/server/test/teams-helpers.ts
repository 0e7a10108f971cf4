// Shared by the teams, tokens, role-table and audit tests: an org with one member of each role, each holding a
// session that acts in it, plus someone from outside.
import { expect } from 'vitest';
import type { Harness } from './harness.js';
import { uniqueEmail } from './harness.js';
import { client, type Reply, type TestUser } from './vault-helpers.js';
import WebSocket from 'ws';
import { settle, until } from './wait.js';

export type Role = 'owner' | 'admin' | 'developer' | 'viewer';
export const ROLES: Role[] = ['owner', 'admin', 'developer', 'viewer'];

export interface Team {
  orgId: string;
  /** Sessions acting in the team org (`orgId` is the team's). */
  members: Record<Role, TestUser>;
  /** A user of another org (their personal one). */
  outsider: TestUser;
}

export function teams(h: () => Harness) {
  const c = client(h);
  const { call, register } = c;

  /** A session of `user` acting in `orgId`. */
  async function switchTo(user: TestUser, orgId: string): Promise<TestUser> {
    const r = await call('POST', '/auth/switch-org', { token: user.accessToken, body: { orgId } });
    expect(r.status, r.raw).toBe(200);
    expect(r.body.orgId).toBe(orgId);
    return { ...user, accessToken: r.body.accessToken, orgId };
  }

  /** Invites `user` with `role` and has them accept; answers their session acting in the org. */
  async function join(by: TestUser, orgId: string, user: TestUser, role: Role): Promise<TestUser> {
    const inv = await call('POST', `/orgs/${orgId}/invitations`, { token: by.accessToken, body: { email: user.email, role } });
    expect(inv.status, inv.raw).toBe(201);
    const acc = await call('POST', '/invitations/accept', { token: user.accessToken, body: { token: inv.body.token } });
    expect(acc.status, acc.raw).toBe(200);
    expect(acc.body).toEqual({ orgId, role });
    return switchTo(user, orgId);
  }

  async function team(name = 'team'): Promise<Team> {
    const owner0 = await register(uniqueEmail('owner'));
    const org = await call('POST', '/orgs', { token: owner0.accessToken, body: { name } });
    expect(org.status, org.raw).toBe(201);
    const orgId = org.body.org.id as string;
    const owner = await switchTo(owner0, orgId);
    const members = { owner } as Record<Role, TestUser>;
    for (const role of ['admin', 'developer', 'viewer'] as const) members[role] = await join(owner, orgId, await register(uniqueEmail(role)), role);
    return { orgId, members, outsider: await register(uniqueEmail('outsider')) };
  }

  /** Deploys an image app as `user` and waits for it to settle; answers its id. */
  async function deployApp(user: TestUser | string, name: string): Promise<string> {
    const token = typeof user === 'string' ? user : user.accessToken;
    const r = await call('POST', '/deploy', { token, body: { name, image: 'acme/web:1', port: 8080 } });
    expect(r.status, r.raw).toBe(202);
    const d = await settle(call, r.body.appId, r.body.deploymentId, token);
    expect(d.deployment.status, d.raw).toBe('succeeded');
    return r.body.appId as string;
  }

  /** Creates an API token as `user`; answers the whole answer (`token`, `secret`). */
  async function apiToken(user: TestUser, body: { name?: string; scopes: string[]; appId?: string; expiresInDays?: number }): Promise<{ token: any; secret: string }> {
    const r: Reply = await call('POST', '/tokens', { token: user.accessToken, body: { name: 'ci', ...body } });
    expect(r.status, r.raw).toBe(201);
    return r.body;
  }

  return { ...c, switchTo, join, team, deployApp, apiToken };
}

/** A live log stream of an app at `wsBase` (ws://host:port) with `token` (?token=), once ready or closed. */
export function openLogStream(wsBase: string, appId: string, token: string) {
  const ws = new WebSocket(`${wsBase}/apps/${appId}/logs/stream?token=${encodeURIComponent(token)}`);
  const s = { ws, ready: false, closed: null as { code: number; reason: string } | null };
  ws.on('message', (m) => JSON.parse(String(m)).type === 'ready' && (s.ready = true));
  ws.on('close', (code, reason) => (s.closed = { code, reason: String(reason) }));
  ws.on('error', () => {});
  return until('the stream to be ready or closed', () => (s.ready || s.closed ? s : undefined));
}
