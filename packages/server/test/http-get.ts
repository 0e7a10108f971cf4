// Plain HTTP GET with an explicit Host header (fetch cannot set one), for requests through an ingress.
import http from 'node:http';

export const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 8 });

export function get(port: number, host: string, path = '/', opts: { agent?: http.Agent; timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: opts.agent ?? false, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
