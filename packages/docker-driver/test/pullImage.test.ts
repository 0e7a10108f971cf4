// Pull details the real engine cannot show here (no registry is reachable): a stand-in engine on a unix socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Dockerode from 'dockerode';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerodeDriver, DockerError, type DockerDriver } from '../src/index.js';

let server: Server;
let dir: string;
let driver: DockerDriver;
const seen: { url: string; auth: string | undefined }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cynchro-fake-engine-'));
  const socketPath = join(dir, 'docker.sock');
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers['x-registry-auth'] as string | undefined });
    res.writeHead(200, { 'content-type': 'application/json' });
    const image = new URL(req.url ?? '/', 'http://x').searchParams.get('fromImage');
    res.write(`${JSON.stringify({ status: `Pulling from ${image}`, id: 'latest' })}\n`);
    res.write(`${JSON.stringify({ status: 'Downloading', id: 'abc', progressDetail: { current: 1 } })}\n`);
    res.write(`${JSON.stringify({ status: 'Downloading', id: 'abc', progressDetail: { current: 2 } })}\n`);
    if (image?.includes('denied')) res.end(`${JSON.stringify({ errorDetail: { message: 'unauthorized: authentication required' }, error: 'unauthorized: authentication required' })}\n`);
    else res.end(`${JSON.stringify({ status: `Status: Downloaded newer image for ${image}` })}\n`);
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  driver = createDockerodeDriver({ docker: new Dockerode({ socketPath }), callTimeoutMs: 2000 });
});

afterAll(async () => {
  await driver?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('pullImage', () => {
  it('sends registry credentials only in X-Registry-Auth and streams progress lines once each', async () => {
    const lines: string[] = [];
    await driver.pullImage('registry.example:5000/acme/api:1.2', {
      auth: { username: 'bot', password: 'pw-VERY-SECRET', serveraddress: 'registry.example:5000' },
      onLine: (l) => lines.push(l),
    });
    const req = seen.at(-1);
    expect(req?.url).toContain('fromImage=registry.example%3A5000%2Facme%2Fapi');
    expect(req?.url).toContain('tag=1.2');
    expect(req?.url).not.toContain('VERY-SECRET');
    const auth = JSON.parse(Buffer.from(String(req?.auth).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, string>;
    expect(auth).toEqual({ username: 'bot', password: 'pw-VERY-SECRET', serveraddress: 'registry.example:5000' });
    expect(lines).toEqual(['latest: Pulling from registry.example:5000/acme/api', 'abc: Downloading', 'Status: Downloaded newer image for registry.example:5000/acme/api']);
  });

  it('reports an error in the pull stream as pull_failed with the registry message', async () => {
    const e = await driver.pullImage('acme/denied@sha256:' + 'a'.repeat(64)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DockerError);
    expect(e).toMatchObject({ code: 'pull_failed', message: expect.stringContaining('unauthorized: authentication required') });
    expect(seen.at(-1)?.url).toContain(`tag=sha256%3A${'a'.repeat(64)}`);
  });
});
