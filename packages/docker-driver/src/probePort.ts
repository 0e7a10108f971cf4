import { request } from 'node:http';
import { connect } from 'node:net';

/** How long an accepted connection must stay open to count (see tcpProbe). */
export const TCP_HOLD_MS = 150;

/**
 * A published port is fronted by docker-proxy, which accepts every connection and only then dials the
 * container, closing ours within a few ms when nothing listens inside. So "accepted" is not enough: the
 * connection must survive a short hold (or the server must speak first).
 */
export function tcpProbe(port: number, timeoutMs: number, nudge = false, host = '127.0.0.1'): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let done = false;
    const finish = (problem: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(hold);
      sock.destroy();
      resolve(problem);
    };
    let hold: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => finish(`no connection to port within ${timeoutMs} ms`), timeoutMs);
    sock.on('connect', () => {
      // An HTTP server answers a nudge at once, so it need not sit out the hold; anything else still can.
      if (nudge) sock.write('HEAD / HTTP/1.0\r\nHost: localhost\r\n\r\n');
      hold = setTimeout(() => finish(null), TCP_HOLD_MS);
    });
    sock.on('data', () => finish(null));
    sock.on('end', () => finish('connection closed by the container (nothing listening?)'));
    sock.on('close', () => finish('connection closed by the container (nothing listening?)'));
    sock.on('error', (err: NodeJS.ErrnoException) => finish(`connection failed: ${err.code ?? err.message}`));
  });
}

/** GET path; 2xx and 3xx (redirects not followed) count as healthy. */
export function httpProbe(port: number, path: string, timeoutMs: number, host = '127.0.0.1'): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (problem: string | null) => {
      if (done) return;
      done = true;
      req.destroy();
      resolve(problem);
    };
    const req = request(
      { host, port, path: path.startsWith('/') ? path : `/${path}`, method: 'GET', agent: false, timeout: timeoutMs },
      (res) => {
        res.resume();
        const s = res.statusCode ?? 0;
        finish(s >= 200 && s < 400 ? null : `GET ${path} answered ${s}`);
      },
    );
    req.on('timeout', () => finish(`GET ${path} did not answer within ${timeoutMs} ms`));
    req.on('error', (err: NodeJS.ErrnoException) => finish(`GET ${path} failed: ${err.code ?? err.message}`));
    req.end();
  });
}
