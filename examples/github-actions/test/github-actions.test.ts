// The workflow as GitHub runs it, against a live server and the real engine: its YAML is parsed and its steps run
// (src/run-job.ts); the `cynchro` step is the CLI binary with the shell's argv, acting with a deploy-only API token
// for one app, without a login or a credentials file.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, busyboxDir, imageLabels } from '@cynchro/docker-driver/testing';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { createClient, CynchroError, type CynchroClient } from '@cynchro/sdk';
import { viaIngress as ingressGet } from '../../../packages/sdk/test/helpers.js';
import { loadWorkflow, type Contexts } from '../src/load-workflow.js';
import { isCynchroStep, type StepResult } from '../src/run-job.js';
import { CLI_BIN_DIR, INSTALL_STEP, rehearse, WORKFLOW_FILE } from '../src/main.js';

const hex = (n: number) => randomBytes(n).toString('hex');
const driver = createDockerodeDriver();
const labels = imageLabels();
const owner = { email: `gha-${hex(4)}@example.com`, password: 'github actions password' };
// Upper case on purpose: the workflow lowercases the repository for the image name, as registries require.
const repository = `Cynchro-Test/Gha-${hex(4)}`;
const sha = hex(20);
const appName = `gha-${hex(4)}`;
let server: LiveServer;
let user: CynchroClient;
let appId: string;
let tokenId: string;
let secret: string;
let home: string;

/** GET through the embedded ingress with the app's domain as Host. */
const viaIngress = (domain: string) => ingressGet(server.env.INGRESS_PORT!, domain);

const webImage = (greeting: string) =>
  [
    `RUN ["/bin/sh","-c","mkdir /www && echo ${greeting} > /www/index.html"]`,
    `CMD ["/bin/sh","-c","trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]`,
  ].join('\n');

/** The job, as a push to main of `repository` at `sha` runs it, with these secrets and variables. */
function runWorkflow(over: { app?: string } = {}): Promise<StepResult[]> {
  const contexts: Contexts = {
    secrets: { CYNCHRO_URL: server.url, CYNCHRO_TOKEN: secret },
    vars: { CYNCHRO_APP: over.app ?? appName },
    github: { repository, sha, ref: 'refs/heads/main' },
  };
  // A fresh runner: its own HOME and XDG_CONFIG_HOME, nothing of this process's CYNCHRO_* variables.
  return rehearse({ contexts, env: { PATH: process.env.PATH ?? '', HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') } });
}

const deployStep = (results: StepResult[]) => {
  const r = results.at(-1)!;
  expect(r.step.id).toBe('deploy');
  return r;
};

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-runner-home-'));
  // The image the workflow's build step would push, under the name its image-name step computes.
  const pushed = `ghcr.io/${repository.toLowerCase()}:${sha}`;
  const dir = busyboxDir(webImage(`deployed by github actions ${sha}`));
  const [live, first] = await Promise.all([
    startLiveServer(),
    buildBusybox(driver, labels, webImage('first version')),
    driver.buildFromDirectory({ dir, tag: pushed, labels }).finally(() => fs.rmSync(dir, { recursive: true, force: true })),
  ]);
  server = live;
  // Set-up by hand, as the README says: the app exists, and a token that may deploy it and nothing else.
  user = createClient({ url: server.url });
  await user.auth.register(owner);
  const h = await user.deploy({ name: appName, image: first, port: 8080 });
  appId = h.appId;
  await h.wait({ timeoutMs: 90_000 });
  const created = await user.tokens.create({ name: 'ci', scopes: ['deploy', 'read'], appId });
  ({ secret } = created);
  tokenId = created.token.id;
  expect(created.token).toMatchObject({ name: 'ci', appId, scopes: expect.arrayContaining(['deploy', 'read']) });
});

afterAll(async () => {
  await user?.apps.delete(appId).catch(() => {});
  await server?.stop();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

describe('the workflow file', () => {
  it('is a push-to-main job that installs the CLI and runs cynchro deploy --wait with the URL and token from secrets', () => {
    const wf = loadWorkflow(WORKFLOW_FILE);
    expect(wf.on).toEqual({ push: { branches: ['main'] } });
    const steps = wf.jobs.deploy!.steps;
    expect(steps.find((s) => s.id === INSTALL_STEP)?.run).toBe('npm install --global @cynchro/cli');
    const cli = steps.filter(isCynchroStep);
    expect(cli.map((s) => s.id)).toEqual(['deploy']);
    expect(cli[0]!.env).toEqual({ CYNCHRO_URL: '${{ secrets.CYNCHRO_URL }}', CYNCHRO_TOKEN: '${{ secrets.CYNCHRO_TOKEN }}' });
    expect(cli[0]!.run).toMatch(/^cynchro deploy .* --wait/);
    // The stand-in for the install step: `cynchro` on PATH is the workspace CLI.
    expect(fs.existsSync(path.join(CLI_BIN_DIR, 'cynchro'))).toBe(true);
  });
});

describe('deploying from the workflow with a deploy-only token', () => {
  it('deploys the pushed image, waits for it, and the app answers through the ingress; no credentials file', async () => {
    const results = await runWorkflow();
    const deploy = deployStep(results);
    expect(deploy.stderr).toBe('');
    expect(deploy.code).toBe(0);
    expect(deploy.argv).toEqual(['deploy', appName, '--image', `ghcr.io/${repository.toLowerCase()}:${sha}`, '--port', '8080', '--wait', '--timeout', '600']);
    expect(deploy.env).toMatchObject({ CYNCHRO_URL: server.url, CYNCHRO_TOKEN: secret });
    expect(deploy.stdout).toContain(`Deploying ${appName}`);
    expect(deploy.stdout).toContain('traffic switched');
    expect(deploy.stdout).toMatch(/Deployment \S+ succeeded/);
    expect(results.filter((r) => r.outcome === 'skipped').map((r) => r.step.id ?? r.step.uses)).toEqual([
      'actions/checkout@v4', 'docker/login-action@v3', 'docker/build-push-action@v6', 'actions/setup-node@v4', INSTALL_STEP,
    ]);

    // The new version is live, and the server recorded the deploy as the token's.
    const detail = await user.apps.get(appId);
    expect(detail.app.status).toBe('running');
    expect(detail.deployments[0]).toMatchObject({ status: 'succeeded' });
    expect(deploy.stdout).toContain(`Deployment ${detail.deployments[0]!.id} succeeded`);
    expect(await viaIngress(detail.app.domain)).toEqual({ status: 200, body: `deployed by github actions ${sha}\n` });
    const audit = await user.audit.list({ limit: 20 });
    expect(audit.events.find((e) => e.action === 'deploy' && e.actor.tokenId === tokenId)).toMatchObject({ outcome: 'ok', target: { id: appId } });
    expect((await user.tokens.list()).find((t) => t.id === tokenId)?.lastUsedAt).not.toBeNull();

    // The CLI never logged in nor kept a session.
    expect(fs.existsSync(path.join(home, '.config', 'cynchro'))).toBe(false);
    expect(fs.readdirSync(home)).toEqual([]);
  });

  it('the same job for another app name fails: 403 forbidden, exit code 1', async () => {
    const other = `gha-other-${hex(3)}`;
    const deploy = deployStep(await runWorkflow({ app: other }));
    expect(deploy.argv?.[1]).toBe(other);
    expect(deploy.code).toBe(1);
    expect(deploy.stderr).toMatch(/^error: forbidden: /m);
    const direct = await createClient({ url: server.url, apiToken: secret }).deploy({ name: other, image: 'busybox:latest' }).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(CynchroError);
    expect(direct).toMatchObject({ code: 'forbidden', status: 403 });
    expect((await user.apps.list()).map((a) => a.name)).toEqual([appName]);
  });

  it('after cynchro tokens revoke, the same job fails: 401 invalid_or_expired_token, exit code 1', async () => {
    // The revocation, as its owner would do it: the CLI on a logged-in session (its own config directory).
    const config = fs.mkdtempSync(path.join(os.tmpdir(), 'gha-owner-config-'));
    try {
      const cynchro = (args: string[], input?: string) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          const child = execFile(path.join(CLI_BIN_DIR, 'cynchro'), args, { env: { PATH: process.env.PATH ?? '', HOME: config, XDG_CONFIG_HOME: config } }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
          child.stdin?.end(input ?? '');
        });
      expect((await cynchro(['login', '--url', server.url, '--email', owner.email, '--password-stdin'], `${owner.password}\n`)).code).toBe(0);
      const revoked = await cynchro(['tokens', 'revoke', tokenId]);
      expect(revoked.stderr).toBe('');
      expect(revoked.code).toBe(0);
    } finally {
      fs.rmSync(config, { recursive: true, force: true });
    }
    const deploy = deployStep(await runWorkflow());
    expect(deploy.code).toBe(1);
    expect(deploy.stderr).toMatch(/^error: invalid_or_expired_token: /m);
    await expect(createClient({ url: server.url, apiToken: secret }).apps.get(appId)).rejects.toMatchObject({ code: 'invalid_or_expired_token', status: 401 });
    expect(fs.readdirSync(home)).toEqual([]);
  });
});
