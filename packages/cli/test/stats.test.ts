// `cynchro stats <app>` as a user runs it (its own process, a live server, the real Docker engine, CYNCHRO_TOKEN),
// and its table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerodeDriver } from '@cynchro/docker-driver';
import { buildBusybox, imageLabels } from '@cynchro/docker-driver/testing';
import { createClient, type AppStats, type CynchroClient } from '@cynchro/sdk';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { formatBytes, formatStats } from '../src/stats-command.js';
import { runCli } from './run-cli.js';

const MB = 1024 * 1024;
const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;
const WEB = `RUN ["/bin/sh","-c","mkdir /www && echo stats > /www/index.html"]\nCMD ["/bin/sh","-c","exec httpd -f -p 8080 -h /www"]`;

let server: LiveServer;
let image: string;
let config: string;
let c: CynchroClient;
let env: Record<string, string>;
const driver = createDockerodeDriver();
const labels = imageLabels();
const me = { email: `${uniq('stats')}@example.com`, password: 'stats cli password' };
const appName = uniq('stats-app');
let appId = '';

beforeAll(async () => {
  config = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-stats-'));
  [server, image] = await Promise.all([startLiveServer({ ADMIN_EMAILS: me.email }), buildBusybox(driver, labels, WEB)]);
  c = createClient({ url: server.url });
  await c.auth.register(me);
  await c.admin.claim(readOperatorToken(server.dataDir));
  await c.admin.unseal(randomBytes(32).toString('hex'));
  const h = await c.deploy({ name: appName, image, port: 8080, memory: 72 });
  appId = h.appId;
  expect((await h.wait({ timeoutMs: 90_000 })).status).toBe('succeeded');
  const token = await c.tokens.create({ name: 'stats-cli', scopes: ['read'] });
  env = { CYNCHRO_URL: server.url, CYNCHRO_TOKEN: token.secret };
}, 150_000);

afterAll(async () => {
  if (appId) await c.apps.delete(appId).catch(() => {});
  await server?.stop();
  await driver.removeByLabels(labels, { images: true }).catch(() => {});
  await driver.close();
  fs.rmSync(config, { recursive: true, force: true });
}, 60_000);

describe('cynchro stats', () => {
  it('prints each running replica (a table, or the API answer with --json); an unknown app exits 1, no app 2', async () => {
    const json = await runCli(config, ['stats', appName, '--json'], { env });
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const stats = JSON.parse(json.stdout) as AppStats;
    expect(stats.services.map((s) => s.name)).toEqual(['app']);
    const r = stats.services[0]!.replicas[0]!;
    expect(r).toMatchObject({ memoryLimitBytes: 72 * MB, restarts: 0 });
    expect(r.memoryBytes).toBeGreaterThan(0);

    const human = await runCli(config, ['stats', appId], { env });
    expect(human.code, human.stderr).toBe(0);
    const [head, row, ...rest] = human.stdout.trimEnd().split('\n');
    expect(rest).toEqual([]);
    expect(head!.split(/\s{2,}/)).toEqual(['SERVICE', 'REPLICA', 'CONTAINER', 'CPU', 'MEMORY / LIMIT', 'MEM', 'RESTARTS', 'UP']);
    expect(row).toMatch(new RegExp(`^app\\s+1\\s+${r.containerId.slice(0, 12)}\\s+\\d+\\.\\d\\d%\\s+\\S+ / 72\\.0MiB\\s+\\d+\\.\\d\\d%\\s+0\\s+\\d+[smhd]$`));

    const missing = await runCli(config, ['stats', 'no-such-app'], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('error: app_not_found');
    const usage = await runCli(config, ['stats'], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: cynchro stats <app>');
  }, 60_000);

  it('lays out services with and without running replicas, and a stopped app', () => {
    const now = new Date('2026-01-01T12:00:00Z');
    const replica = { containerId: 'a'.repeat(64), cpuPercent: 3.14159, memoryBytes: 12.5 * MB, memoryLimitBytes: 256 * MB, restarts: 2, startedAt: '2026-01-01T11:55:00Z' };
    const text = formatStats({ services: [{ name: 'web', replicas: [replica, { ...replica, containerId: 'b'.repeat(64), startedAt: '2026-01-01T09:00:00Z' }] }, { name: 'worker', replicas: [] }] }, now);
    expect(text.split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['SERVICE', 'REPLICA', 'CONTAINER', 'CPU', 'MEMORY / LIMIT', 'MEM', 'RESTARTS', 'UP'],
      ['web', '1', 'a'.repeat(12), '3.14%', '12.5MiB / 256MiB', '4.88%', '2', '5m'],
      ['web', '2', 'b'.repeat(12), '3.14%', '12.5MiB / 256MiB', '4.88%', '2', '3h'],
      ['worker', '-', '(none running)'],
    ]);
    expect(formatStats({ services: [{ name: 'app', replicas: [] }] }, now)).toMatch(/^No running replicas/);
    expect([formatBytes(512), formatBytes(1536), formatBytes(3 * 1024 * MB)]).toEqual(['512B', '1.5KiB', '3.0GiB']);
  });
});
