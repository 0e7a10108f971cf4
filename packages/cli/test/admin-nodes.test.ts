// `cynchro admin nodes` as an operator runs it (its own process, a live server on the real Docker engine, a session
// from `cynchro login`), a non-operator's refusal, and the table's layout for a cluster.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RuntimeNode } from '@cynchro/sdk';
import { readOperatorToken, startLiveServer, type LiveServer } from '@cynchro/server/testing';
import { formatNodes } from '../src/admin-nodes-command.js';
import { runCli } from './run-cli.js';

const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;
const operator = { email: `${uniq('nodes-op')}@example.com`, password: 'nodes operator password' };
const other = { email: `${uniq('nodes-user')}@example.com`, password: 'nodes user password' };
let server: LiveServer;
let opConfig: string;
let userConfig: string;

beforeAll(async () => {
  opConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-nodes-op-'));
  userConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-cli-nodes-user-'));
  server = await startLiveServer({ ADMIN_EMAILS: operator.email });
  for (const [config, who] of [[opConfig, operator], [userConfig, other]] as const) {
    const r = await runCli(config, ['register', '--url', server.url, '--email', who.email, '--password-stdin'], { input: `${who.password}\n` });
    expect(r.code, r.stderr).toBe(0);
  }
  const tokenFile = path.join(opConfig, 'operator-token');
  fs.writeFileSync(tokenFile, readOperatorToken(server.dataDir));
  const claim = await runCli(opConfig, ['admin', 'claim', '--token-file', tokenFile]);
  expect(claim.code, claim.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  for (const dir of [opConfig, userConfig]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('cynchro admin nodes', () => {
  it('prints this machine as the one node (a table, or the API answer with --json); others get forbidden; arguments are a usage error', async () => {
    const json = await runCli(opConfig, ['admin', 'nodes', '--json']);
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    const { nodes } = JSON.parse(json.stdout) as { nodes: RuntimeNode[] };
    expect(nodes).toEqual([
      {
        id: expect.any(String),
        hostname: os.hostname(),
        role: 'manager',
        state: 'ready',
        availability: 'active',
        cpus: os.availableParallelism(),
        memoryMb: Math.round(os.totalmem() / (1024 * 1024)),
        apps: expect.any(Number),
      },
    ]);
    const node = nodes[0]!;

    const human = await runCli(opConfig, ['admin', 'nodes']);
    expect(human.code, human.stderr).toBe(0);
    const [head, row, ...rest] = human.stdout.trimEnd().split('\n');
    expect(rest).toEqual([]);
    expect(head!.split(/\s{2,}/)).toEqual(['ID', 'HOSTNAME', 'ROLE', 'STATE', 'AVAILABILITY', 'CPUS', 'MEMORY', 'APPS']);
    // The app count may move between the two calls (other tests share this engine): any number there.
    expect(row!.split(/\s{2,}/)).toEqual([node.id, node.hostname, 'manager', 'ready', 'active', String(node.cpus), expect.stringMatching(/^\d+(\.\d)?GiB$/), expect.stringMatching(/^\d+$/)]);

    const refused = await runCli(userConfig, ['admin', 'nodes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: forbidden');
    const usage = await runCli(opConfig, ['admin', 'nodes', 'extra']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: cynchro admin nodes');
    const help = await runCli(opConfig, ['--help']);
    expect(help.stdout).toMatch(/admin nodes\s+the machines apps run on/);
  });

  it('lays out every node of a cluster, memory in binary units', () => {
    const node = (over: Partial<RuntimeNode>): RuntimeNode => ({ id: 'n1', hostname: 'a', role: 'manager', state: 'ready', availability: 'active', cpus: 2, memoryMb: 1536, apps: 3, ...over });
    const text = formatNodes([node({}), node({ id: 'n2', hostname: 'worker-1', role: 'worker', state: 'down', availability: 'drain', cpus: 16, memoryMb: 65_536, apps: 0 })]);
    expect(text.split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['ID', 'HOSTNAME', 'ROLE', 'STATE', 'AVAILABILITY', 'CPUS', 'MEMORY', 'APPS'],
      ['n1', 'a', 'manager', 'ready', 'active', '2', '1.5GiB', '3'],
      ['n2', 'worker-1', 'worker', 'down', 'drain', '16', '64.0GiB', '0'],
    ]);
    expect(formatNodes([])).toBe('No nodes');
  });
});
