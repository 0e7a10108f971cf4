// The health probes against plain local servers (no engine): what counts as "accepting connections".
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TCP_HOLD_MS, tcpProbe } from '../src/probePort.js';

const servers: net.Server[] = [];
async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('tcpProbe', () => {
  it('with the HTTP nudge, an HTTP server counts as soon as it answers, before the hold', async () => {
    const port = await listen(http.createServer((_req, res) => res.writeHead(404).end()));
    const t0 = performance.now();
    expect(await tcpProbe(port, 2000, true)).toBeNull();
    expect(performance.now() - t0).toBeLessThan(TCP_HOLD_MS);
  });

  it('a server that accepts and keeps silent counts after the hold, nudged or not', async () => {
    const port = await listen(net.createServer((s) => s.resume())); // reads (and ignores) whatever comes
    expect(await tcpProbe(port, 2000, true)).toBeNull();
    expect(await tcpProbe(port, 2000, false)).toBeNull();
  });

  it('a connection closed right after accept (docker-proxy with nothing listening behind it) does not count', async () => {
    const port = await listen(net.createServer((s) => s.destroy()));
    expect(await tcpProbe(port, 2000, true)).toMatch(/closed/);
    expect(await tcpProbe(port, 2000, false)).toMatch(/closed/);
  });

  it('a refused connection does not count', async () => {
    const port = await listen(net.createServer());
    await new Promise((r) => servers.pop()!.close(r));
    expect(await tcpProbe(port, 2000, true)).toMatch(/ECONNREFUSED|failed/);
  });
});
