// CONTRACT.md "Scale and the runtime": GET /admin/nodes on the single-engine runtime (fake engine): one node, the
// engine, with its machine's figures and the number of apps running on it; operators only; engine trouble is 503.
import { createFakeDockerDriver, FAKE_ENGINE_HOST, type FakeDockerDriver } from '@cynchro/docker-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { ADMIN_ENV, client, newMasterKey, type TestUser } from './vault-helpers.js';
import { settle } from './wait.js';

let h: Harness;
let docker: FakeDockerDriver;
const { call, register, operator, unseal } = client(() => h);
let op: TestUser;
let alice: TestUser;

beforeAll(async () => {
  docker = createFakeDockerDriver();
  h = await startHarness(ADMIN_ENV, { docker });
  op = await operator();
  expect((await unseal(op, newMasterKey())).status).toBe(200);
  alice = await register();
});
afterAll(async () => {
  await h.close();
});

const nodes = (token = op.accessToken) => call('GET', '/admin/nodes', { token });

async function deploy(name: string, replicas = 1): Promise<string> {
  const r = await call('POST', '/deploy', { token: alice.accessToken, body: { name, image: 'acme/web:1', port: 8080, replicas } });
  expect(r.status, r.raw).toBe(202);
  expect((await settle(call, r.body.appId, r.body.deploymentId, alice.accessToken)).deployment.status).toBe('succeeded');
  return r.body.appId as string;
}

describe('GET /admin/nodes', () => {
  it("answers the one engine as a ready, active manager with its machine's CPUs and memory, counting the apps running on it", async () => {
    const engine = await docker.engineInfo();
    const node = { id: engine.id, hostname: FAKE_ENGINE_HOST.name, role: 'manager', state: 'ready', availability: 'active', cpus: FAKE_ENGINE_HOST.cpus, memoryMb: FAKE_ENGINE_HOST.memoryBytes / (1024 * 1024) };
    const empty = await nodes();
    expect(empty.status, empty.raw).toBe(200);
    expect(empty.body).toEqual({ nodes: [{ ...node, apps: 0 }] });

    const web = await deploy(`nodes-web-${process.pid}`, 2);
    expect((await nodes()).body).toEqual({ nodes: [{ ...node, apps: 1 }] });
    await deploy(`nodes-api-${process.pid}`);
    expect((await nodes()).body).toEqual({ nodes: [{ ...node, apps: 2 }] });

    const stop = await call('POST', `/apps/${web}/stop`, { token: alice.accessToken });
    expect(stop.status, stop.raw).toBe(200);
    expect((await nodes()).body).toEqual({ nodes: [{ ...node, apps: 1 }] });
  });

  it("is for operators only: 401 without a valid token, 403 forbidden for other users and for API tokens (an operator's too)", async () => {
    expect((await call('GET', '/admin/nodes')).body.error).toBe('missing_bearer_token');
    expect((await nodes('not.a.jwt')).status).toBe(401);
    const user = await nodes(alice.accessToken);
    expect(user.status).toBe(403);
    expect(user.body.error).toBe('forbidden');
    const token = await call('POST', '/tokens', { token: op.accessToken, body: { name: 'ci', scopes: ['read', 'manage'] } });
    expect(token.status, token.raw).toBe(201);
    const viaToken = await nodes(token.body.secret);
    expect(viaToken.status).toBe(403);
    expect(viaToken.body.error).toBe('forbidden');
  });

  it('is in /openapi.json with the contract\'s fields and its error codes', async () => {
    const doc = (await h.app.inject({ url: '/openapi.json' })).json();
    const op = doc.paths['/admin/nodes']?.get;
    expect(op.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/NodesList' });
    expect(Object.keys(op.responses).sort()).toEqual(['200', '401', '403', '500', '503']);
    const node = doc.components.schemas.RuntimeNode;
    expect(node.required.sort()).toEqual(['apps', 'availability', 'cpus', 'hostname', 'id', 'memoryMb', 'role', 'state']);
    expect(node.properties.role.enum).toEqual(['manager', 'worker']);
  });

  it('answers 503 unavailable while the engine does not answer, and the node again once it does', async () => {
    docker.engineDown();
    try {
      const r = await nodes();
      expect(r.status, r.raw).toBe(503);
      expect(r.body.error).toBe('unavailable');
    } finally {
      docker.engineUp();
    }
    const back = await nodes();
    expect(back.status, back.raw).toBe(200);
    expect(back.body.nodes).toHaveLength(1);
  });
});
