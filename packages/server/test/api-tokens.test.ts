// CONTRACT.md "API tokens": cyn_ secrets shown once and kept as hashes, scopes and app scope on every transport
// (REST, /trpc, the WebSocket log streams), expiry, revocation at once, lastUsedAt. A real server on the fake engine.
import type { AddressInfo } from 'node:net';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { openLogStream, teams, type Team } from './teams-helpers.js';
import { ADMIN_ENV, newMasterKey, type TestUser } from './vault-helpers.js';
import { until } from './wait.js';

let h: Harness;
let wsBase: string;
const t = teams(() => h);
const { call } = t;
let n = 0;
const appName = () => `tk-${++n}-${process.pid % 1000}`;
let team: Team;
let owner: TestUser;
let appA: string;
let appB: string;

beforeAll(async () => {
  h = await startHarness({ QUOTA_MAX_APPS: '100', ...ADMIN_ENV });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  wsBase = `ws://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const op = await t.operator();
  expect((await t.unseal(op, newMasterKey())).status).toBe(200);
  team = await t.team();
  owner = team.members.owner;
  appA = await t.deployApp(owner, appName());
  appB = await t.deployApp(owner, appName());
});
afterAll(async () => {
  await h.close();
});

/** A tRPC call over HTTP (what the SDK does), with a bearer token. */
async function trpc(kind: 'query' | 'mutation', path: string, token: string, input?: unknown) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const res =
    kind === 'query'
      ? await h.app.inject({ method: 'GET', url: `/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(superjson.serialize(input)))}`}`, headers })
      : await h.app.inject({ method: 'POST', url: `/trpc/${path}`, headers, payload: JSON.stringify(superjson.serialize(input)) });
  const body = res.json();
  return { status: res.statusCode, error: (body.error?.json ?? body.error)?.data?.appError?.error as string | undefined, data: body.result?.data ? superjson.deserialize(body.result.data) : undefined };
}

const stream = (appId: string, token: string) => openLogStream(wsBase, appId, token);

describe('creating and listing tokens', () => {
  it('answers a cyn_ secret once; only its hash is stored; lists never show it', async () => {
    const r = await call('POST', '/tokens', { token: owner.accessToken, body: { name: 'ci', scopes: ['deploy', 'read', 'deploy'] } });
    expect(r.status).toBe(201);
    const { token, secret } = r.body;
    expect(secret).toMatch(/^cyn_[A-Za-z0-9_-]{43,}$/);
    expect(token).toEqual({
      id: expect.stringMatching(/^tok_/),
      name: 'ci',
      scopes: ['deploy', 'read'],
      appId: null,
      orgId: team.orgId,
      userId: owner.userId,
      expiresAt: expect.any(String),
      createdAt: expect.any(String),
      lastUsedAt: null,
    });
    const days = (Date.parse(token.expiresAt) - Date.parse(token.createdAt)) / 86_400_000;
    expect(days).toBe(90);
    const row = await h.deps.db.selectFrom('api_tokens').selectAll().where('id', '=', token.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(secret.slice(4));
    expect(row.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const list = await call('GET', '/tokens', { token: owner.accessToken });
    expect(list.body.tokens.map((x: { id: string }) => x.id)).toContain(token.id);
    expect(list.raw).not.toContain(secret);
  });

  it('validates names, scopes and expiresInDays (1–365)', async () => {
    for (const body of [
      { name: '', scopes: ['read'] },
      { name: 'x', scopes: [] },
      { name: 'x', scopes: ['admin'] },
      { name: 'x', scopes: ['read'], expiresInDays: 0 },
      { name: 'x', scopes: ['read'], expiresInDays: 366 },
      { name: 'x', scopes: ['read'], expiresInDays: 1.5 },
    ]) {
      const r = await call('POST', '/tokens', { token: owner.accessToken, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toBe('validation');
    }
    const year = await t.apiToken(owner, { scopes: ['read'], expiresInDays: 365 });
    expect((Date.parse(year.token.expiresAt) - Date.parse(year.token.createdAt)) / 86_400_000).toBe(365);
  });

  it('grants nothing beyond the creator role, and only apps of the org', async () => {
    const viewer = await call('POST', '/tokens', { token: team.members.viewer.accessToken, body: { name: 'x', scopes: ['read', 'deploy'] } });
    expect(viewer.status).toBe(403);
    expect((await call('POST', '/tokens', { token: team.members.developer.accessToken, body: { name: 'x', scopes: ['manage'] } })).status).toBe(403);
    expect((await call('POST', '/tokens', { token: team.members.viewer.accessToken, body: { name: 'x', scopes: ['read'] } })).status).toBe(201);
    const foreign = await call('POST', '/tokens', { token: team.outsider.accessToken, body: { name: 'x', scopes: ['read'], appId: appA } });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error).toBe('app_not_found');
  });

  it("members see their own tokens; owners and admins see and revoke everyone's", async () => {
    const devTok = await t.apiToken(team.members.developer, { name: 'dev', scopes: ['read'] });
    const adminTok = await t.apiToken(team.members.admin, { name: 'adm', scopes: ['read'] });
    const devList = (await call('GET', '/tokens', { token: team.members.developer.accessToken })).body.tokens.map((x: { id: string }) => x.id);
    expect(devList).toContain(devTok.token.id);
    expect(devList).not.toContain(adminTok.token.id);
    const adminList = (await call('GET', '/tokens', { token: team.members.admin.accessToken })).body.tokens.map((x: { id: string }) => x.id);
    expect(adminList).toEqual(expect.arrayContaining([devTok.token.id, adminTok.token.id]));
    const refused = await call('DELETE', `/tokens/${adminTok.token.id}`, { token: team.members.developer.accessToken });
    expect(refused.status).toBe(403);
    expect((await call('DELETE', `/tokens/${devTok.token.id}`, { token: team.members.admin.accessToken })).status).toBe(204);
    const unknown = await call('DELETE', '/tokens/tok_nope', { token: owner.accessToken });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe('token_not_found');
    // Another org's token is as unknown as a made-up one.
    expect((await call('DELETE', `/tokens/${adminTok.token.id}`, { token: team.outsider.accessToken })).body.error).toBe('token_not_found');
  });
});

describe('scopes on every transport', () => {
  it('read: every GET and the log streams, nothing else (REST)', async () => {
    const { secret } = await t.apiToken(owner, { scopes: ['read'] });
    expect((await call('GET', '/apps', { token: secret })).status).toBe(200);
    expect((await call('GET', `/apps/${appA}`, { token: secret })).status).toBe(200);
    expect((await call('GET', `/apps/${appA}/logs`, { token: secret })).status).toBe(200);
    expect((await call('GET', '/secrets', { token: secret })).status).toBe(200);
    expect((await call('GET', '/audit', { token: secret })).status).toBe(200);
    for (const [method, url, body] of [
      ['POST', '/deploy', { name: appName(), image: 'acme/web:1' }],
      ['POST', `/apps/${appA}/restart`, undefined],
      ['POST', `/apps/${appA}/stop`, undefined],
      ['DELETE', `/apps/${appA}`, undefined],
      ['POST', '/secrets', { name: 's', data: { A: '1' } }],
    ] as const) {
      const r = await call(method, url, { token: secret, body });
      expect(r.status, `${method} ${url}`).toBe(403);
      expect(r.body.error).toBe('forbidden');
    }
  });

  it('deploy, secrets and manage each open their own actions (REST)', async () => {
    const deploy = (await t.apiToken(owner, { scopes: ['deploy'] })).secret;
    const secrets = (await t.apiToken(owner, { scopes: ['secrets'] })).secret;
    const manage = (await t.apiToken(owner, { scopes: ['manage'] })).secret;
    const name = appName();
    const d = await call('POST', '/deploy', { token: deploy, body: { name, image: 'acme/web:1', port: 8080 } });
    expect(d.status, d.raw).toBe(202);
    expect((await call('GET', `/apps/${d.body.appId}`, { token: deploy })).status).toBe(403); // no read scope
    expect((await call('POST', '/secrets', { token: deploy, body: { name: 's', data: { A: '1' } } })).status).toBe(403);
    expect((await call('POST', '/secrets', { token: secrets, body: { name: 's', data: { A: '1' } } })).status).toBe(200);
    expect((await call('DELETE', '/secrets/s', { token: secrets })).status).toBe(200);
    expect((await call('POST', '/deploy', { token: secrets, body: { name, image: 'acme/web:1' } })).status).toBe(403);
    expect((await call('DELETE', `/apps/${d.body.appId}`, { token: deploy })).status).toBe(403);
    await until('the deployment to end', async () => {
      const r = await call('GET', `/apps/${d.body.appId}`, { token: owner.accessToken });
      return ['succeeded', 'failed'].includes(r.body.deployments[0].status);
    });
    const del = await call('DELETE', `/apps/${d.body.appId}`, { token: manage });
    expect(del.status, del.raw).toBe(200);
  });

  it('the same rules on /trpc', async () => {
    const read = (await t.apiToken(owner, { scopes: ['read'] })).secret;
    const list = await trpc('query', 'apps.list', read);
    expect(list.status).toBe(200);
    expect((list.data as { apps: { id: string }[] }).apps.map((a) => a.id)).toEqual(expect.arrayContaining([appA, appB]));
    const refused = await trpc('mutation', 'apps.restart', read, { id: appA });
    expect(refused.status).toBe(403);
    expect(refused.error).toBe('forbidden');
    const deploy = (await t.apiToken(owner, { scopes: ['deploy'] })).secret;
    const ok = await trpc('mutation', 'deploy', deploy, { name: appName(), image: 'acme/web:1', port: 8080 });
    expect(ok.status).toBe(200);
    expect((ok.data as { status: string }).status).toBe('queued');
    expect((await trpc('query', 'auth.me', read)).status).toBe(403);
  });

  it('the log streams take ?token=cyn_… with the read scope (4403 without it)', async () => {
    const read = (await t.apiToken(owner, { scopes: ['read'] })).secret;
    const deployOnly = (await t.apiToken(owner, { scopes: ['deploy'] })).secret;
    const s = await stream(appA, read);
    expect(s.ready).toBe(true);
    const refused = await stream(appA, deployOnly);
    expect(refused.closed).toEqual({ code: 4403, reason: 'forbidden' });
    s.ws.close();
  });
});

describe('an app-scoped token', () => {
  it('reaches its app only, on REST, /trpc and the streams, and cannot create apps', async () => {
    const nameA = (await call('GET', `/apps/${appA}`, { token: owner.accessToken })).body.app.name as string;
    const { secret } = await t.apiToken(owner, { scopes: ['read', 'deploy', 'secrets', 'manage'], appId: appA });
    const list = await call('GET', '/apps', { token: secret });
    expect(list.body.apps.map((a: { id: string }) => a.id)).toEqual([appA]);
    expect((await call('GET', `/apps/${appA}`, { token: secret })).status).toBe(200);
    const other = await call('GET', `/apps/${appB}`, { token: secret });
    expect(other.status).toBe(403);
    expect((await call('POST', `/apps/${appB}/restart`, { token: secret })).status).toBe(403);
    expect((await call('DELETE', `/apps/${appB}`, { token: secret })).status).toBe(403);
    const redeploy = await call('POST', '/deploy', { token: secret, body: { name: nameA, image: 'acme/web:2', port: 8080 } });
    expect(redeploy.status, redeploy.raw).toBe(202);
    const create = await call('POST', '/deploy', { token: secret, body: { name: appName(), image: 'acme/web:1' } });
    expect(create.status).toBe(403);
    expect(create.body.error).toBe('forbidden');
    // Secrets: its app's only.
    expect((await call('POST', '/secrets', { token: secret, body: { name: 'orgwide', data: { A: '1' } } })).status).toBe(403);
    expect((await call('POST', '/secrets', { token: secret, body: { name: 'mine', data: { A: '1' }, appId: appA } })).status).toBe(200);
    expect((await call('POST', '/secrets', { token: secret, body: { name: 'theirs', data: { A: '1' }, appId: appB } })).status).toBe(403);
    expect((await call('POST', '/secrets', { token: owner.accessToken, body: { name: 'orgwide', data: { A: '1' } } })).status).toBe(200);
    const secrets = await call('GET', '/secrets', { token: secret });
    expect(secrets.body.secrets.map((x: { name: string }) => x.name)).toEqual(['mine']);
    expect((await call('GET', '/audit', { token: secret })).status).toBe(403);
    expect((await trpc('query', 'apps.get', secret, { id: appB })).status).toBe(403);
    expect((await trpc('query', 'apps.get', secret, { id: appA })).status).toBe(200);
    const s = await stream(appB, secret);
    expect(s.closed).toEqual({ code: 4403, reason: 'forbidden' });
    const mine = await stream(appA, secret);
    expect(mine.ready).toBe(true);
    mine.ws.close();
  });
});

describe('what tokens never reach', () => {
  it('/auth, /tokens, org membership, invitations and /admin answer 403', async () => {
    const { secret, token } = await t.apiToken(owner, { scopes: ['read', 'deploy', 'secrets', 'manage'] });
    for (const [method, url, body] of [
      ['GET', '/auth/me', undefined],
      ['POST', '/auth/logout', undefined],
      ['POST', '/auth/change-password', { currentPassword: 'correct horse battery', newPassword: 'another horse battery' }],
      ['POST', '/auth/switch-org', { orgId: team.orgId }],
      ['GET', '/tokens', undefined],
      ['POST', '/tokens', { name: 'x', scopes: ['read'] }],
      ['DELETE', `/tokens/${token.id}`, undefined],
      ['GET', '/orgs', undefined],
      ['POST', '/orgs', { name: 'x' }],
      ['PATCH', `/orgs/${team.orgId}`, { name: 'x' }],
      ['GET', `/orgs/${team.orgId}/members`, undefined],
      ['POST', `/orgs/${team.orgId}/invitations`, { email: 'x@example.com', role: 'viewer' }],
      ['DELETE', `/orgs/${team.orgId}/members/${team.members.viewer.userId}`, undefined],
      ['POST', '/invitations/accept', { token: 'x' }],
      ['GET', '/admin/seal-status', undefined],
      ['POST', '/admin/seal', undefined],
      ['POST', '/admin/claim', { token: 'x' }],
    ] as const) {
      const r = await call(method, url, { token: secret, body });
      expect(r.status, `${method} ${url}: ${r.raw}`).toBe(403);
      expect(r.body.error).toBe('forbidden');
    }
    // Still alive and unchanged after all that.
    expect((await call('GET', '/apps', { token: secret })).status).toBe(200);
    expect((await call('GET', `/orgs/${team.orgId}/members`, { token: owner.accessToken })).body.members).toHaveLength(4);
  });

  it('another org: its apps are 404 to a token, whatever its scopes', async () => {
    const outsiderToken = (await t.apiToken(team.outsider, { scopes: ['read', 'deploy', 'secrets', 'manage'] })).secret;
    for (const [method, url] of [
      ['GET', `/apps/${appA}`],
      ['POST', `/apps/${appA}/restart`],
      ['DELETE', `/apps/${appA}`],
    ] as const) {
      const r = await call(method, url, { token: outsiderToken });
      expect(r.status, `${method} ${url}`).toBe(404);
      expect(r.body.error).toBe('app_not_found');
    }
    const s = await stream(appA, outsiderToken);
    expect(s.closed?.code).toBe(4404);
  });
});

describe('expiry, revocation and lastUsedAt', () => {
  it('an expired token is refused with 401 invalid_or_expired_token', async () => {
    const { secret } = await t.apiToken(owner, { scopes: ['read'], expiresInDays: 1 });
    expect((await call('GET', '/apps', { token: secret })).status).toBe(200);
    h.clock.advance(86_400_000 + 1000);
    try {
      const r = await call('GET', '/apps', { token: secret });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_or_expired_token');
      expect((await trpc('query', 'apps.list', secret)).status).toBe(401);
      const s = await stream(appA, secret);
      expect(s.closed?.code).toBe(4401);
    } finally {
      h.clock.advance(-(86_400_000 + 1000));
    }
  });

  it('a revoked token is refused at once on every transport, and its open streams close', async () => {
    const { secret, token } = await t.apiToken(owner, { scopes: ['read', 'deploy'] });
    const s = await stream(appA, secret);
    expect(s.ready).toBe(true);
    const r = await call('DELETE', `/tokens/${token.id}`, { token: owner.accessToken });
    expect(r.status).toBe(204);
    await until('the stream to close with 4401', () => s.closed?.code === 4401);
    expect((await call('GET', '/apps', { token: secret })).body.error).toBe('invalid_or_expired_token');
    expect((await trpc('query', 'apps.list', secret)).status).toBe(401);
    expect((await stream(appA, secret)).closed?.code).toBe(4401);
    expect((await call('GET', '/tokens', { token: owner.accessToken })).body.tokens.map((x: { id: string }) => x.id)).not.toContain(token.id);
    expect((await call('DELETE', `/tokens/${token.id}`, { token: owner.accessToken })).body.error).toBe('token_not_found');
  });

  it('a made-up or malformed cyn_ token is 401, not a crash', async () => {
    for (const bad of ['cyn_', 'cyn_nope', `cyn_${'x'.repeat(5000)}`]) {
      const r = await call('GET', '/apps', { token: bad });
      expect(r.status, bad.slice(0, 10)).toBe(401);
      expect(r.body.error).toBe('invalid_or_expired_token');
    }
  });

  it('keeps lastUsedAt', async () => {
    const { secret, token } = await t.apiToken(owner, { scopes: ['read'] });
    const before = Date.now();
    expect((await call('GET', '/apps', { token: secret })).status).toBe(200);
    const listed = (await call('GET', '/tokens', { token: owner.accessToken })).body.tokens.find((x: { id: string }) => x.id === token.id);
    expect(Date.parse(listed.lastUsedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(listed.lastUsedAt)).toBeLessThanOrEqual(Date.now() + 1000);
  });
});
