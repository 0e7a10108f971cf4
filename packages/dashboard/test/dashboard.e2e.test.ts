// The dashboard end to end: Debian's chromium (playwright-core, no browser download) against a live server and the
// real Docker engine. One person's first session: sign up, claim operator rights and unseal, create a secret, deploy
// an image app and watch it finish, reach it through the ingress, watch its live logs, deploy again, roll back,
// restart, cancel a deployment that never gets healthy, deploy a private repo with its token and a secret mounted as
// files, invite a member who sees the app, create an API token, read the audit log, stop and delete the app.
// axe-core checks each page and each page leaves a screenshot in test/screenshots/. The steps run in order, each on
// the last one's state.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver, type DockerDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels, startGitHttpServer, type GitHttpServer } from '@cynchro/docker-driver/testing';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, type CynchroClient } from '@cynchro/sdk';

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.join(here, 'screenshots');
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A web app: prints app-started and a tick a second, serves /www on 8080 (busybox FROM scratch). */
const WEB_DOCKERFILE = [
  'RUN ["/bin/sh","-c","mkdir /www && echo hello from cynchro > /www/index.html"]',
  `CMD ["/bin/sh","-c","trap 'exit 0' TERM; echo app-started; (i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done) & httpd -f -p 8080 -h /www & wait"]`,
].join('\n');

/** Never listens, so its deployment stays `deploying` until the health timeout (90 s): one to cancel. SIGKILL
 * because a shell as PID 1 ignores SIGTERM. */
const DEAD_DOCKERFILE = 'STOPSIGNAL SIGKILL\nCMD ["/bin/sh","-c","echo never listening; sleep 600"]';

const hex = () => randomBytes(4).toString('hex');
const me = { email: `ui-${hex()}@example.com`, password: 'dashboard password' };
const appName = `web-${hex()}`;
const repoToken = `ghp_${randomBytes(18).toString('hex')}`;

let server: LiveServer;
let driver: DockerDriver;
const labels = imageLabels();
let image: string;
let deadImage: string;
let git: GitHttpServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let api: CynchroClient;

beforeAll(async () => {
  fs.mkdirSync(shots, { recursive: true });
  driver = createDockerodeDriver();
  // A private repo's smart-HTTP server on loopback: plain http is allowed for its host only.
  git = await startGitHttpServer({ token: repoToken });
  [server, image, deadImage, browser] = await Promise.all([
    startLiveServer({ ADMIN_EMAILS: me.email, GIT_ALLOW_HOSTS: git.host }, { startTimeoutMs: 60_000 }),
    buildBusybox(driver, labels, WEB_DOCKERFILE),
    buildBusybox(driver, labels, DEAD_DOCKERFILE),
    chromium.launch({
      executablePath: CHROMIUM,
      // No browser download and no calls home: the machine cannot reach those hosts.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      // launch() gives each browser a fresh temporary profile of its own (a --user-data-dir argument is refused).
    }),
  ]);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  api = createClient({ url: server.url });
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (api) for (const a of await api.apps.list().catch(() => [])) await api.apps.delete(a.id).catch(() => {});
  await server?.stop();
  await driver?.removeByLabels(labels, { images: true }).catch(() => {});
  await driver?.close();
  await git?.close();
}, 60_000);

/** axe-core in the page (evaluated through the DevTools protocol, so the page's CSP stays in force): no serious or critical violations. */
async function checkA11y(name: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: { id: string; impact: string | null; nodes: { target: unknown }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => JSON.stringify(n.target)) }));
  });
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'), `axe on ${name}`).toEqual([]);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

function viaIngress(domain: string, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: Number(server.env.INGRESS_PORT), path: urlPath, headers: { host: domain } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

async function nav(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

/** The numbers of the `tick N` lines in the live log box. */
async function ticks(): Promise<number[]> {
  const text = await page.getByRole('log', { name: 'Live log lines' }).innerText();
  return [...text.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
}

/** The deployment rows' statuses, newest first. */
async function deploymentStatuses(): Promise<string[]> {
  return page.locator('table.deployments tbody tr td:nth-child(2)').allInnerTexts();
}

describe('dashboard in headless Chromium (live server, real engine)', () => {
  it('a browser asking for / lands on the sign-in page at /ui/, served with a CSP that refuses injected inline script', async () => {
    const res = await page.goto(`${server.url}/`);
    expect(page.url()).toBe(`${server.url}/ui/`);
    const headers = res!.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(headers['x-content-type-options']).toBe('nosniff');
    await page.getByRole('heading', { name: 'Sign in to Cynchro' }).waitFor();

    // Script injected into the page as markup does not run.
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__injected = true';
      document.body.append(s);
    });
    expect(await page.evaluate(() => (window as unknown as { __injected?: boolean }).__injected)).toBeUndefined();
    // Nothing of the session in storage a script could read.
    expect(await page.evaluate(() => localStorage.length + sessionStorage.length + document.cookie.length)).toBe(0);
    await checkA11y('sign-in');

    // A wrong password reads as a sentence, not a code.
    await page.getByLabel('Email', { exact: true }).fill(me.email);
    await page.getByLabel('Password', { exact: true }).fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').innerText()).resolves.toBe('The email or password is wrong.');
  });

  it('signs up (a validation error shows beside its field first), landing on the empty apps page', async () => {
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    await page.getByLabel('Email', { exact: true }).fill(me.email);
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Sign up' }).click();
    const password = page.getByLabel('Password', { exact: true });
    await expect.poll(() => password.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.field-error').allInnerTexts()).toContain('must be at least 8 characters');
    await checkA11y('sign-up');

    await password.fill(me.password);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByText('No apps in this organization yet.').waitFor();
    expect(page.url()).toBe(`${server.url}/ui/`);
    // The org switcher lists the personal org.
    expect(await page.getByLabel('Organization').locator('option').count()).toBe(1);
    // Tokens live in memory only.
    expect(await page.evaluate(() => localStorage.length + sessionStorage.length + document.cookie.length)).toBe(0);
    await checkA11y('apps-empty');

  });

  it('claims operator rights and unseals the vault (secrets and env values are stored encrypted); the nodes are listed', async () => {
    await nav('Operator');
    await page.getByRole('heading', { name: 'Claim operator rights' }).waitFor();
    await page.getByLabel('Operator token').fill('not the token');
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.getByText('The token is wrong, or your email is not one of the server’s ADMIN_EMAILS.').waitFor();
    await page.getByLabel('Operator token').fill(readOperatorToken(server.dataDir));
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.getByText('The vault is sealed.').waitFor();
    await page.getByLabel('Master key').fill(randomBytes(32).toString('hex'));
    await page.getByRole('button', { name: 'Unseal' }).click();
    await page.getByText('The vault is unsealed.').waitFor();
    await page.getByRole('table', { name: 'Nodes' }).locator('tbody tr').first().waitFor();
    await checkA11y('operator');
    // The test's own SDK session, for cleanup.
    await api.auth.login(me);
  });

  it('creates a secret: its name and key are listed, its value is never shown', async () => {
    await nav('Secrets');
    await page.getByText('No secrets yet. Create one below.').waitFor();
    await page.getByLabel('Secret name').fill('db');
    await page.getByLabel('Key 1', { exact: true }).fill('DB_PASSWORD');
    await page.getByLabel('Value 1', { exact: true }).fill('hunter2-value');
    await page.getByRole('button', { name: 'Save secret' }).click();
    await page.getByText('Saved db (DB_PASSWORD).').waitFor();
    const row = page.locator('table.list tbody tr', { hasText: 'DB_PASSWORD' });
    await expect(row.innerText()).resolves.toContain('all apps');
    expect(await page.getByLabel('Value 1', { exact: true }).inputValue()).toBe('');
    expect(await page.content()).not.toContain('hunter2-value');
    await checkA11y('secrets');
  });

  let domain = '';

  it('deploys an image app with env and the secret, watches the deployment finish, and reaches it through the ingress', async () => {
    await nav('Apps');
    await page.getByRole('link', { name: 'Deploy an app' }).click();
    await page.getByRole('heading', { name: 'Deploy an app' }).waitFor();
    await page.getByLabel('App name').fill(appName);
    await page.getByLabel('Image', { exact: true }).fill(image);
    await page.getByLabel('Port', { exact: true }).fill('8080');
    await page.getByRole('button', { name: 'Add variable' }).click();
    await page.getByLabel('Variable 1 name', { exact: true }).fill('GREETING');
    await page.getByLabel('Variable 1 value', { exact: true }).fill('hi');
    await page.getByLabel(/^db/).check();
    await checkA11y('new-app');
    await page.getByRole('button', { name: 'Deploy' }).click();

    await page.getByRole('heading', { name: appName }).waitFor();
    expect(page.url()).toMatch(new RegExp(`/ui/apps/[^/]+$`));
    await expect.poll(deploymentStatuses, { timeout: 60_000 }).toEqual(['succeeded']);
    await expect.poll(() => page.locator('dl.facts dd').first().innerText(), { timeout: 15_000 }).toBe('running');
    const facts = await page.locator('dl.facts').innerText();
    expect(facts).toContain('GREETING, db (secret)');
    const url = await page.locator('dl.facts a').innerText();
    expect(url).toBe(`http://${appName}.localhost:${server.env.INGRESS_PORT}`);
    domain = new URL(url).hostname;
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'hello from cynchro\n' });
    await page.getByRole('table', { name: 'Running replicas' }).getByRole('cell', { name: 'app/1', exact: true }).waitFor({ timeout: 15_000 });
  }, 90_000);

  it('live logs: a new line arrives; the filter narrows; pause holds lines back until resumed', async () => {
    const log = page.getByRole('log', { name: 'Live log lines' });
    await log.getByText('app-started').waitFor({ timeout: 20_000 });
    await expect.poll(async () => (await ticks()).length, { timeout: 20_000 }).toBeGreaterThan(0);
    const first = Math.max(...(await ticks()));
    // A line written after the page opened: the stream follows live, not a snapshot.
    await expect.poll(async () => Math.max(...(await ticks())), { timeout: 15_000 }).toBeGreaterThan(first);
    await checkA11y('app');

    const filter = page.getByLabel('Filter', { exact: true });
    await filter.fill('app-started');
    await expect.poll(async () => (await log.innerText()).split('\n').filter(Boolean)).toEqual([expect.stringMatching(/ app\/1 app-started$/)]);
    await filter.fill('');

    await page.getByRole('button', { name: 'Pause' }).click();
    const frozen = Math.max(...(await ticks()));
    await page.getByText(/\d+ new lines held/).waitFor({ timeout: 15_000 });
    expect(Math.max(...(await ticks()))).toBe(frozen);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(async () => Math.max(...(await ticks()))).toBeGreaterThan(frozen);
  }, 60_000);

  it('deploys a second release from the app page, then rolls back to the first', async () => {
    await page.getByRole('textbox', { name: 'Variable 1 value' }).fill('hello again');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await expect.poll(deploymentStatuses, { timeout: 60_000 }).toEqual(['succeeded', 'succeeded']);

    await page.getByRole('button', { name: 'Roll back' }).click();
    await page.getByText('Rollback: requested.').waitFor();
    await expect.poll(deploymentStatuses, { timeout: 60_000 }).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const newest = page.locator('table.deployments tbody tr').first();
    expect(await newest.innerText()).toMatch(/rollback of/);
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'hello from cynchro\n' });
  }, 90_000);

  it('restarts the app: the live log follows onto the new container without a reload', async () => {
    const log = page.getByRole('log', { name: 'Live log lines' });
    const started = async () => (await log.innerText()).split('\n').filter((l) => l.endsWith(' app-started')).length;
    const before = await started();
    await page.getByRole('button', { name: 'Restart' }).click();
    await page.getByText('Restart: requested.').waitFor();
    await expect.poll(deploymentStatuses, { timeout: 60_000 }).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(await page.locator('table.deployments tbody tr').first().innerText()).toContain('restart');
    await expect.poll(started, { timeout: 20_000 }).toBeGreaterThan(before);
  }, 90_000);

  it('cancels a deployment that never becomes healthy: it ends canceled and the running release keeps serving', async () => {
    await page.getByLabel('Image', { exact: true }).fill(deadImage);
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await expect.poll(async () => (await deploymentStatuses())[0], { timeout: 30_000 }).toBe('deploying');
    await page.getByRole('region', { name: /^Deployment .* in progress$/ }).getByRole('log', { name: 'Deployment log' }).waitFor();
    await page.getByRole('button', { name: /^Cancel deployment / }).click();
    await expect.poll(deploymentStatuses, { timeout: 30_000 }).toEqual(['canceled', 'succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(await page.locator('table.deployments tbody tr').first().innerText()).toContain('canceled by request');
    expect(await page.getByRole('button', { name: /^Cancel deployment / }).count()).toBe(0);
    expect(await viaIngress(domain)).toEqual({ status: 200, body: 'hello from cynchro\n' });
  }, 60_000);

  it('deploys a private repo with its token and a secret mounted as files; the token is never shown back', async () => {
    git.createRepo(
      'site',
      {
        Dockerfile: [
          `FROM ${image}`,
          'COPY www /www',
          'STOPSIGNAL SIGKILL',
          // Serves the mounted secret file, so the test sees that secretFiles reached the container (the engine
          // delivers the files just after the start: wait for them).
          'CMD ["/bin/sh","-c","until [ -f /run/secrets/DB_PASSWORD ]; do sleep 0.1; done; cp /run/secrets/DB_PASSWORD /www/secret.txt; exec httpd -f -p 8080 -h /www"]',
        ].join('\n'),
        'www/index.html': 'built from the repo\n',
      },
      { branch: 'main', private: true },
    );
    const repoApp = `site-${hex()}`;
    await nav('Apps');
    await page.getByRole('link', { name: 'Deploy an app' }).click();
    await page.getByLabel('App name').fill(repoApp);
    await page.getByLabel('Build from a Git repository').check();
    expect(await page.getByLabel('Image', { exact: true }).count()).toBe(0);
    await page.getByLabel('Repository URL').fill(`${git.baseUrl}/site.git`);
    await page.getByLabel('Branch', { exact: true }).fill('main');
    const token = page.getByLabel('Access token', { exact: true });
    await token.fill(repoToken);
    expect(await token.getAttribute('type')).toBe('password');
    await page.getByLabel('Port', { exact: true }).fill('8080');
    await page.getByLabel(/^Files of db/).check();
    await checkA11y('new-app-repo');
    await page.getByRole('button', { name: 'Deploy' }).click();

    await page.getByRole('heading', { name: repoApp }).waitFor();
    await expect.poll(deploymentStatuses, { timeout: 90_000 }).toEqual(['succeeded']);
    const facts = await page.locator('dl.facts').innerText();
    expect(facts).toContain(`${git.baseUrl}/site.git (main), with a stored token`);
    expect(facts).toContain('db (secret files)');
    const repoDomain = new URL(await page.locator('dl.facts a').innerText()).hostname;
    expect(await viaIngress(repoDomain)).toEqual({ status: 200, body: 'built from the repo\n' });
    expect((await viaIngress(repoDomain, '/secret.txt')).body).toBe('hunter2-value');
    // The app page's Deploy form starts from the repo, with the token field empty and saying one is kept.
    expect(await page.getByLabel('Build from a Git repository').isChecked()).toBe(true);
    expect(await page.getByLabel('Repository URL').inputValue()).toBe(`${git.baseUrl}/site.git`);
    expect(await page.getByLabel('Access token', { exact: true }).inputValue()).toBe('');
    await page.getByText('A token is stored (never shown). Leave empty to keep it.').waitFor();
    expect(await page.content()).not.toContain(repoToken);
    const repoAppId = new URL(page.url()).pathname.split('/').pop()!;
    // Back to the image app (the next steps start from its page), then the repo app goes.
    await nav('Apps');
    await page.getByRole('link', { name: appName, exact: true }).click();
    await page.getByRole('heading', { name: appName }).waitFor();
    await api.apps.delete(repoAppId);
  }, 120_000);

  it('invites a member, who signs up with the code in a browser of their own, switches org and sees the app', async () => {
    const appPath = new URL(page.url()).pathname;
    await nav('Team');
    await page.getByRole('table', { name: 'Members' }).getByRole('cell', { name: me.email, exact: true }).waitFor();
    const invitee = { email: `member-${hex()}@example.com`, password: 'member password' };
    await page.getByLabel('Email to invite').fill(invitee.email);
    await page.getByLabel('Role', { exact: true }).selectOption('developer');
    await page.getByRole('button', { name: 'Invite' }).click();
    const code = await page.locator('.shown-once code.secret').innerText();
    expect(code.length).toBeGreaterThan(10);
    await page.getByRole('table', { name: 'Pending invitations' }).getByRole('cell', { name: invitee.email, exact: true }).waitFor();
    await checkA11y('team');

    const theirs = await browser.newContext();
    try {
      const p = await theirs.newPage();
      p.setDefaultTimeout(20_000);
      await p.goto(`${server.url}/ui/signup?invitation=${encodeURIComponent(code)}`);
      expect(await p.getByLabel('Invitation code (optional)').inputValue()).toBe(code);
      await p.getByLabel('Email', { exact: true }).fill(invitee.email);
      await p.getByLabel('Password', { exact: true }).fill(invitee.password);
      await p.getByRole('button', { name: 'Sign up' }).click();
      const orgs = p.getByLabel('Organization');
      await expect.poll(() => orgs.locator('option').count()).toBe(2);
      const inviterOrg = (await orgs.locator('option', { hasText: '(developer)' }).getAttribute('value'))!;
      if ((await orgs.inputValue()) !== inviterOrg) await orgs.selectOption(inviterOrg);
      await p.getByRole('link', { name: appName, exact: true }).click();
      await p.getByRole('heading', { name: appName }).waitFor();
      expect(new URL(p.url()).pathname).toBe(appPath);
    } finally {
      await theirs.close();
    }
  }, 60_000);

  it('creates an API token whose secret is shown once with a copy button; the audit log lists what happened', async () => {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await nav('API tokens');
    await page.getByText('No API tokens.').waitFor();
    await page.getByLabel('Token name').fill('ci-main');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.locator('.shown-once code.secret').innerText();
    expect(secret).toMatch(/^cyn_/);
    await page.getByRole('button', { name: 'Copy token secret' }).click();
    await page.getByText('Copied.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    await page.getByRole('table', { name: 'API tokens' }).getByRole('cell', { name: 'ci-main', exact: true }).waitFor();
    await checkA11y('tokens');
    // The secret is gone once the page is left.
    await nav('Audit log');
    const audit = page.getByRole('table', { name: 'Audit events, newest first' });
    await audit.waitFor();
    const actions = await audit.locator('tbody tr td:nth-child(3)').allInnerTexts();
    expect(actions).toEqual(expect.arrayContaining(['deploy', 'secret.set', 'app.rollback', 'member.invite', 'token.create']));
    expect(await page.content()).not.toContain(secret);
    await checkA11y('audit');
  });

  it('stops the app (the ingress answers 503), then deletes it only after its name is typed; the list is empty again and the ingress forgets it', async () => {
    await nav('Apps');
    await page.getByRole('link', { name: appName, exact: true }).click();
    await page.getByRole('heading', { name: appName }).waitFor();
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => page.locator('dl.facts dd').first().innerText(), { timeout: 30_000 }).toBe('stopped');
    await page.getByText('No replica is running.').waitFor({ timeout: 15_000 });
    await expect.poll(async () => (await viaIngress(domain)).status, { timeout: 15_000 }).toBe(503);
    await page.getByRole('button', { name: 'Delete…' }).click();
    const confirm = page.getByRole('button', { name: 'Delete permanently' });
    expect(await confirm.isDisabled()).toBe(true);
    await page.getByLabel(`Type ${appName} to confirm`).fill(appName);
    await confirm.click();
    await page.getByText('No apps in this organization yet.').waitFor({ timeout: 30_000 });
    expect(page.url()).toBe(`${server.url}/ui/`);
    await expect.poll(async () => (await viaIngress(domain)).status, { timeout: 15_000 }).toBe(404);
  }, 60_000);

  it('a reload signs out (the session lived in memory only); signing in again returns to the page that was open', async () => {
    await nav('Secrets');
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to Cynchro' }).waitFor();
    await page.getByLabel('Email', { exact: true }).fill(me.email);
    await page.getByLabel('Password', { exact: true }).fill(me.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Secrets', level: 1 }).waitFor();
    expect(page.url()).toBe(`${server.url}/ui/secrets`);
    await page.getByRole('cell', { name: 'DB_PASSWORD', exact: true }).waitFor();
  });
});
