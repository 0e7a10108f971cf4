// orgs, members, invitations, API tokens and the audit log from the `cynchro` bin, as a user runs it: its own
// process, a live server, the real Docker engine; and CYNCHRO_TOKEN acting without any credentials file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { runCli, type CliResult } from './run-cli.js';

const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

const WEB = [
  'RUN ["/bin/sh","-c","mkdir /www && echo hello from a token > /www/index.html"]',
  `CMD ["/bin/sh","-c","trap 'exit 0' TERM; echo app-started; (i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done) & httpd -f -p 8080 -h /www & wait"]`,
].join('\n');

let server: LiveServer;
let image: string;
const driver = createDockerodeDriver();
const labels = imageLabels();
const alice = { email: `${uniq('alice')}@example.com`, password: 'alice cli password', config: '' };
const bob = { email: `${uniq('bob')}@example.com`, password: 'bob cli password 1', config: '' };
/** A CI runner's config directory: nothing may ever be written there. */
let runner = '';
const appName = uniq('tok-app');
let acmeId = '';

type Result = CliResult;

/** The bin in its own process, `input` on its stdin; env: a clean slate of CYNCHRO_* variables plus `env`. */
const cynchro = runCli;
const asAlice = (args: string[], opts?: { input?: string; env?: Record<string, string> }) => cynchro(alice.config, args, opts);
const asBob = (args: string[], opts?: { input?: string; env?: Record<string, string> }) => cynchro(bob.config, args, opts);

/** Exit 0, nothing on stderr, stdout one JSON document. */
function ok<T = Record<string, unknown>>(r: Result): T {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

const credentials = (config: string) => JSON.parse(fs.readFileSync(path.join(config, 'cynchro', 'credentials.json'), 'utf8')) as Record<string, string>;

beforeAll(async () => {
  alice.config = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-alice-'));
  bob.config = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-bob-'));
  runner = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-runner-'));
  [server, image] = await Promise.all([startLiveServer({ ADMIN_EMAILS: alice.email }), buildBusybox(driver, labels, WEB)]);
  for (const p of [alice, bob]) {
    const r = await cynchro(p.config, ['register', '--url', server.url, '--email', p.email, '--password-stdin'], { input: `${p.password}\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }
}, 120_000);

afterAll(async () => {
  await asAlice(['apps', 'rm', appName]);
  await server?.stop();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
  for (const d of [alice.config, bob.config, runner]) if (d) fs.rmSync(d, { recursive: true, force: true });
}, 60_000);

describe('orgs', () => {
  it('orgs ls marks the org the session acts in; create, rename; switch by name stores the new session', async () => {
    const start = credentials(alice.config);
    const personal = ok<{ orgs: { id: string; personal: boolean }[]; currentOrgId: string }>(await asAlice(['orgs', 'ls', '--json']));
    expect(personal.orgs).toHaveLength(1);
    expect(personal.currentOrgId).toBe(personal.orgs[0]!.id);
    expect(start.orgId).toBe(personal.currentOrgId); // kept at register
    const created = ok<{ org: { id: string; name: string; role: string } }>(await asAlice(['orgs', 'create', 'Acme', '--json']));
    expect(created.org).toMatchObject({ name: 'Acme', role: 'owner' });
    acmeId = created.org.id;
    const renamed = await asAlice(['orgs', 'rename', 'Acme', 'Acme Inc']);
    expect(renamed.code).toBe(0);
    expect(renamed.stdout).toContain(`Renamed Acme to Acme Inc (${acmeId})`);

    const sw = await asAlice(['orgs', 'switch', 'Acme Inc']);
    expect(sw.stderr).toBe('');
    expect(sw.code).toBe(0);
    expect(sw.stdout).toContain(`Now acting in Acme Inc (${acmeId}) as owner`);
    const after = credentials(alice.config);
    expect(after).toMatchObject({ url: server.url, email: alice.email, orgId: acmeId });
    expect(after.accessToken).not.toBe(start.accessToken);
    expect(after.refreshToken).not.toBe(start.refreshToken);
    const ls = await asAlice(['orgs', 'ls']);
    expect(ls.stdout).toMatch(/^\s+NAME\s+ID\s+ROLE\s+PERSONAL$/m);
    expect(ls.stdout).toMatch(new RegExp(`^\\*\\s+Acme Inc\\s+${acmeId}\\s+owner\\s*$`, 'm'));
    expect(ok(await asAlice(['whoami', '--json']))).toMatchObject({ orgId: acmeId, role: 'owner' });

    const unknown = await asAlice(['orgs', 'switch', 'no-such-org']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error: org_not_found');
    expect((await asAlice(['orgs', 'switch'])).code).toBe(2);
    expect((await asAlice(['orgs', 'frobnicate'])).code).toBe(2);
  });
});

describe('members and invitations', () => {
  let bobToken = '';

  it('members ls; invite prints the token once; --role is required and checked', async () => {
    const ls = await asAlice(['members', 'ls']);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(new RegExp(`^${alice.email}\\s+usr_\\S+\\s+owner`, 'm'));
    const noRole = await asAlice(['members', 'invite', bob.email]);
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toContain('--role');
    const badRole = await asAlice(['members', 'invite', bob.email, '--role', 'superuser']);
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('owner, admin, developer, viewer');
    const human = await asAlice(['members', 'invite', bob.email, '--role', 'developer']);
    expect(human.code).toBe(0);
    const m = /cynchro invitations accept (\S+)/.exec(human.stdout);
    expect(m).not.toBeNull();
    bobToken = m![1]!;
    const pending = ok<{ orgId: string; invitations: { email: string; role: string }[] }>(await asAlice(['invitations', 'ls', '--json']));
    expect(pending).toMatchObject({ orgId: acmeId, invitations: [{ email: bob.email, role: 'developer' }] });
    expect(JSON.stringify(pending)).not.toContain(bobToken);
  });

  it('invitations accept - reads the token from stdin; accepted once', async () => {
    const r = await asBob(['invitations', 'accept', '-'], { input: `${bobToken}\n` });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Joined org ${acmeId} as developer`);
    const again = await asBob(['invitations', 'accept', bobToken, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: 'invitation_not_found', status: 404 });
    expect((await asBob(['invitations', 'accept', '-'], { input: '' })).code).toBe(2);
    // bob's session still acts in his personal org: --org names acme (by name).
    const members = ok<{ members: { email: string; role: string }[] }>(await asBob(['members', 'ls', '--org', 'Acme Inc', '--json']));
    expect(members.members.map((x) => [x.email, x.role]).sort()).toEqual([[alice.email, 'owner'], [bob.email, 'developer']].sort());
  });

  it('members role by email and by user id; a developer is refused (exit 1)', async () => {
    const refused = await asBob(['members', 'role', alice.email, 'viewer', '--org', acmeId]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: forbidden');
    const r = await asAlice(['members', 'role', bob.email, 'admin']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${bob.email} is now admin`);
    const bobId = ok<{ members: { userId: string; email: string }[] }>(await asAlice(['members', 'ls', '--json'])).members.find((x) => x.email === bob.email)!.userId;
    expect(ok<{ member: { role: string } }>(await asAlice(['members', 'role', bobId, 'developer', '--json'])).member.role).toBe('developer');
    const nobody = await asAlice(['members', 'role', 'nobody@example.com', 'viewer']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toContain('member_not_found');
    const last = await asAlice(['members', 'role', alice.email, 'admin']);
    expect(last.code).toBe(1);
    expect(last.stderr).toContain('error: conflict');
  });

  it('invitations revoke; members rm', async () => {
    const inv = ok<{ invitation: { id: string } }>(await asAlice(['members', 'invite', 'carol@example.com', '--role', 'viewer', '--json']));
    const rv = await asAlice(['invitations', 'revoke', inv.invitation.id]);
    expect(rv.code).toBe(0);
    expect(ok<{ invitations: unknown[] }>(await asAlice(['invitations', 'ls', '--json'])).invitations).toEqual([]);
    expect((await asAlice(['invitations', 'ls'])).stdout.trim()).toBe('No pending invitations');
    const rm = await asAlice(['members', 'rm', bob.email]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain(`Removed ${bob.email}`);
    expect(ok<{ members: { email: string }[] }>(await asAlice(['members', 'ls', '--json'])).members.map((x) => x.email)).toEqual([alice.email]);
    expect((await asBob(['orgs', 'ls', '--json'])).stdout).not.toContain(acmeId);
  });

  it('members rm of yourself leaves; leaving the org the session acts in ends the session', async () => {
    const inv = ok<{ token: string }>(await asAlice(['members', 'invite', bob.email, '--role', 'viewer', '--json']));
    expect((await asBob(['invitations', 'accept', inv.token])).code).toBe(0);
    expect((await asBob(['orgs', 'switch', acmeId])).code).toBe(0);
    const left = await asBob(['members', 'rm', bob.email]);
    expect(left.stderr).toBe('');
    expect(left.code).toBe(0);
    expect(left.stdout).toContain(`You left org ${acmeId}; your session acted in it and has ended`);
    const dead = await asBob(['orgs', 'ls']);
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain('invalid_or_expired_token');
    expect((await asBob(['login', '--email', bob.email, '--password-stdin'], { input: `${bob.password}\n` })).code).toBe(0);
    expect(ok<{ orgs: { id: string }[] }>(await asBob(['orgs', 'ls', '--json'])).orgs.map((o) => o.id)).not.toContain(acmeId);
  });
});

describe('API tokens and CYNCHRO_TOKEN', () => {
  let tokenId = '';
  let secret = '';
  const withToken = (args: string[], config = runner, extra: Record<string, string> = {}) =>
    cynchro(config, args, { env: { CYNCHRO_TOKEN: secret, CYNCHRO_URL: server.url, ...extra } });

  it('tokens create (the secret printed once, --json the whole answer), tokens ls without secrets', async () => {
    const d = await asAlice(['deploy', appName, '--image', image, '--port', '8080', '--wait']);
    expect(d.code).toBe(0);
    const usage = await asAlice(['tokens', 'create', 'ci']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--scope');
    expect((await asAlice(['tokens', 'create', 'ci', '--scope', 'root'])).code).toBe(2);
    const human = await asAlice(['tokens', 'create', 'ci', '--scope', 'deploy', '--scope', 'read', '--app', appName, '--expires-in-days', '7']);
    expect(human.stderr).toBe('');
    expect(human.code).toBe(0);
    const lines = human.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^Created token ci \\(\\S+\\): deploy, read, app ${appName} \\(app_\\S+\\) only, expires `));
    expect(lines[1]).toMatch(/^cyn_\S{40,}$/);
    expect(human.stdout).toContain('shown only now');
    const r = ok<{ token: { id: string; name: string; scopes: string[]; appId: string; expiresAt: string; createdAt: string }; secret: string }>(
      await asAlice(['tokens', 'create', 'ci-json', '--scope', 'deploy,read', '--app', appName, '--json']),
    );
    ({ secret } = r);
    tokenId = r.token.id;
    expect(r.secret).toMatch(/^cyn_/);
    expect(r.token).toMatchObject({ name: 'ci-json', appId: expect.stringMatching(/^app_/) });
    const ls = await asAlice(['tokens', 'ls']);
    expect(ls.stdout).toMatch(/^NAME\s+ID\s+SCOPES\s+APP\s+EXPIRES\s+LAST USED$/m);
    expect(ls.stdout).toMatch(new RegExp(`^ci-json\\s+${tokenId}\\s+(deploy,read|read,deploy)\\s+app_\\S+\\s+\\S+\\s+never$`, 'm'));
    expect(ls.stdout).not.toContain('cyn_');
  }, 120_000);

  it('with CYNCHRO_TOKEN the CLI acts with the token, without a login or a credentials file', async () => {
    const apps = ok<{ apps: { name: string }[] }>(await withToken(['apps', 'ls', '--json']));
    expect(apps.apps.map((a) => a.name)).toEqual([appName]);
    const d = await withToken(['deploy', appName, '--image', image, '--port', '8080', '--wait']);
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/Deployment \S+ succeeded/);
    await expect.poll(async () => (await withToken(['logs', appName, '--tail', '20'])).stdout, { timeout: 15_000 }).toContain('app-started');
    const other = await withToken(['deploy', uniq('other'), '--image', image]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/^error: forbidden: /m);
    const tokens = await withToken(['tokens', 'ls', '--json']);
    expect(tokens.code).toBe(1);
    expect(JSON.parse(tokens.stderr)).toMatchObject({ error: 'forbidden', status: 403 });
    // No session is ever stored with a token: login, logout and orgs switch are usage errors.
    for (const args of [['login', '--email', alice.email], ['logout'], ['orgs', 'switch', acmeId]]) {
      const r = await withToken(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('CYNCHRO_TOKEN is set');
    }
    const noUrl = await cynchro(runner, ['apps', 'ls'], { env: { CYNCHRO_TOKEN: secret } });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('CYNCHRO_URL');
    expect(fs.readdirSync(runner)).toEqual([]);
  }, 120_000);

  it("CYNCHRO_TOKEN wins over a stored session, and leaves its file alone", async () => {
    const file = path.join(alice.config, 'cynchro', 'credentials.json');
    const before = fs.readFileSync(file, 'utf8');
    const r = await withToken(['tokens', 'ls'], alice.config); // alice's session could; the token cannot
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: forbidden');
    expect((await withToken(['apps', 'ls'], alice.config)).code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('tokens revoke; then the token is refused with invalid_or_expired_token', async () => {
    const ls = ok<{ tokens: { id: string; lastUsedAt: string | null }[] }>(await asAlice(['tokens', 'ls', '--json']));
    expect(ls.tokens.find((t) => t.id === tokenId)?.lastUsedAt).toEqual(expect.any(String));
    const r = await asAlice(['tokens', 'revoke', tokenId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Revoked token ci-json (${tokenId})`);
    const refused = await withToken(['apps', 'ls']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: invalid_or_expired_token: /m);
    const again = await asAlice(['tokens', 'revoke', tokenId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('token_not_found');
    // By name, when one token has it.
    expect((await asAlice(['tokens', 'revoke', 'ci'])).code).toBe(0);
    expect(ok<{ tokens: unknown[] }>(await asAlice(['tokens', 'ls', '--json'])).tokens).toEqual([]);
    expect(fs.readdirSync(runner)).toEqual([]);
  });
});

describe('audit', () => {
  it('audit pages with --limit and --before; the token is named as the actor of its deploy', async () => {
    const all = ok<{ events: { id: string; action: string; outcome: string; actor: { tokenId: string | null } }[]; nextCursor: string | null }>(
      await asAlice(['audit', '--limit', '100', '--json']),
    );
    const actions = all.events.map((e) => e.action);
    for (const a of ['member.invite', 'member.join', 'member.role', 'member.remove', 'token.create', 'token.revoke', 'deploy']) expect(actions).toContain(a);
    expect(all.events.some((e) => e.action === 'deploy' && e.actor.tokenId !== null && e.outcome === 'ok')).toBe(true);
    const first = ok<{ events: { id: string }[]; nextCursor: string }>(await asAlice(['audit', '--limit', '2', '--json']));
    expect(first.events.map((e) => e.id)).toEqual(all.events.slice(0, 2).map((e) => e.id));
    const human = await asAlice(['audit', '--limit', '2', '--before', first.nextCursor]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^AT\s+ACTION\s+TARGET\s+ACTOR\s+VIA\s+OUTCOME\s+IP$/m);
    expect(human.stdout).toMatch(/^More: cynchro audit --limit 2 --before \d+$/m);
    expect((await asAlice(['audit', '--limit', 'many'])).code).toBe(2);
    const own = await asBob(['audit']); // bob acts in his personal org, where he is the owner
    expect(own.code).toBe(0);
    expect(own.stdout).not.toContain(alice.email);
  });

  it('admin audit: the operators\' log, after admin claim', async () => {
    const before = await asAlice(['admin', 'audit']);
    expect(before.code).toBe(1);
    expect(before.stderr).toContain('forbidden');
    expect((await asAlice(['admin', 'claim', '--token-file', path.join(server.dataDir, 'operator-token')])).code).toBe(0);
    const page = ok<{ events: { action: string }[] }>(await asAlice(['admin', 'audit', '--json']));
    expect(page.events.map((e) => e.action)).toContain('operator.claim');
  });
});

describe('help', () => {
  it('lists the new commands and CYNCHRO_TOKEN', async () => {
    const h = await cynchro(runner, ['--help']);
    expect(h.code).toBe(0);
    for (const s of ['orgs switch <org>', 'members invite <email> --role R', 'invitations accept <token>', 'tokens create <name> --scope S...', 'audit [--limit N] [--before CURSOR]', 'CYNCHRO_TOKEN']) {
      expect(h.stdout).toContain(s);
    }
  });
});
