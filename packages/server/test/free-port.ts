// Ports for processes a test starts (servers, ingresses, Caddy).
import fs from 'node:fs';
import net from 'node:net';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    // All interfaces, as Caddy's ":port" listeners bind.
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on, for a process that binds it a moment later. Taken below the kernel's ephemeral range:
 * a port the kernel hands out for listen(0) can meanwhile become the local port of one of the many client
 * connections a test makes, and the later bind then fails with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: keep the usual default.
  }
  const from = Math.max(10_000, low - 12_000);
  for (let i = 0; i < 100; i++) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (!handedOut.has(port) && (await canListen(port))) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found');
}
const handedOut = new Set<number>();
