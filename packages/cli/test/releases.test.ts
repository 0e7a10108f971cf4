// `cynchro deployments` and `cynchro rollback` as a user runs them, against a live server on the real engine:
// two image versions, a rollback to the first served again through the ingress, the history paged.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { viaIngress as ingressGet } from '../../sdk/test/helpers.js';
import { runCli, type CliResult } from './run-cli.js';

const site = (text: string) =>
  [`RUN ["/bin/sh","-c","mkdir /www && echo ${text} > /www/index.html"]`, 'STOPSIGNAL SIGKILL', 'CMD ["httpd","-f","-p","8080","-h","/www"]'].join('\n');

let server: LiveServer;
let v1: string;
let v2: string;
let config = '';
const driver = createDockerodeDriver();
const labels = imageLabels();
const app = `rb-${randomBytes(4).toString('hex')}`;
const cli = (args: string[], input?: string) => runCli(config, args, input === undefined ? {} : { input });

/** Exit 0 and one JSON document on stdout (with --wait, progress goes to stderr). */
function json<T>(r: CliResult, progressOnStderr = false): T {
  if (!progressOnStderr) expect(r.stderr, r.stdout).toBe('');
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** The body of the app at `url`, through the embedded ingress. */
async function viaIngress(url: string): Promise<string> {
  const u = new URL(url);
  return (await ingressGet(u.port, u.hostname)).body;
}

beforeAll(async () => {
  config = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-releases-'));
  [server, v1, v2] = await Promise.all([startLiveServer(), buildBusybox(driver, labels, site('one')), buildBusybox(driver, labels, site('two'))]);
  const r = await cli(['register', '--url', server.url, '--email', `${app}@example.com`, '--password-stdin'], 'releases cli password\n');
  expect(r.code, r.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await cli(['apps', 'rm', app]);
  await server?.stop();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
  if (config) fs.rmSync(config, { recursive: true, force: true });
}, 60_000);

describe('rollback and the history from the CLI', () => {
  it('rolls back to the release before the current one and it is served again', async () => {
    const first = json<{ url: string; deployment: { id: string } }>(await cli(['deploy', app, '--image', v1, '--port', '8080', '--wait', '--json']), true);
    json(await cli(['deploy', app, '--image', v2, '--port', '8080', '--wait', '--json']), true);
    expect((await viaIngress(first.url)).trim()).toBe('two');
    const rb = json<{ status: string; rollbackOf: string; deployment: { trigger: string; rollbackOf: string } }>(await cli(['rollback', app, '--wait', '--json']), true);
    expect(rb).toMatchObject({ status: 'succeeded', rollbackOf: first.deployment.id, deployment: { trigger: 'rollback', rollbackOf: first.deployment.id } });
    expect((await viaIngress(first.url)).trim()).toBe('one');
    const human = await cli(['rollback', app, '--to', 'dep_nope']);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('deployment_not_found');
  }, 180_000);

  it('lists the history page by page', async () => {
    const p1 = json<{ deployments: { trigger: string }[]; nextCursor: string }>(await cli(['deployments', app, '--limit', '2', '--json']));
    expect(p1.deployments.map((d) => d.trigger)).toEqual(['rollback', 'api']);
    expect(p1.nextCursor).toEqual(expect.any(String));
    const p2 = json<{ deployments: { trigger: string }[]; nextCursor: null }>(await cli(['deployments', app, '--limit', '2', '--before', p1.nextCursor, '--json']));
    expect(p2).toEqual({ deployments: [expect.objectContaining({ trigger: 'api' })], nextCursor: null });
    const table = await cli(['deployments', app, '--limit', '2']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID\s+STATUS\s+TRIGGER\s+COMMIT\s+IMAGE\s+CREATED\s+ERROR$/m);
    expect(table.stdout).toContain(`More: cynchro deployments ${app} --limit 2 --before ${p1.nextCursor}`);
  });
});
