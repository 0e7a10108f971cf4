// The ask endpoint's parsing and its peer check, without sockets; test/ingress.test.ts runs it on real ones.
import type http from 'node:http';
import { describe, expect, it } from 'vitest';
import { askedDomain, isLoopback, tlsAskHandler } from './tls-ask-server.js';

/** Runs the handler on a request from `peer` and resolves with the status it answers. */
function statusFor(peer: string, url: string, holds: (d: string) => Promise<boolean> = async () => true): Promise<number> {
  return new Promise((resolve) => {
    const req = { socket: { remoteAddress: peer }, url, method: 'GET' } as unknown as http.IncomingMessage;
    const res = { writeHead: (status: number) => ({ end: () => resolve(status) }) } as unknown as http.ServerResponse;
    tlsAskHandler({ holds })(req, res);
  });
}

describe('tls ask', () => {
  it('knows loopback peers, in either socket family', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '172.17.0.1', 'fe80::1', '', undefined]) expect(isLoopback(a)).toBe(false);
  });

  it('reads the domain Caddy asks about, normalized, or nothing when it is not a hostname', () => {
    expect(askedDomain('/ask?domain=App.Example.COM.')).toBe('app.example.com');
    expect(askedDomain('/ask?domain=xn--bcher-kva.example')).toBe('xn--bcher-kva.example');
    for (const bad of ['/ask', '/ask?domain=', '/ask?domain=a%20b', '/ask?domain=-a.example', '/ask?domain=a..b', `/ask?domain=${'a'.repeat(64)}.example`]) {
      expect(askedDomain(bad)).toBeUndefined();
    }
  });

  it('refuses a peer that is not loopback before looking anything up', async () => {
    let asked = 0;
    const holds = async () => (asked++, true);
    expect(await statusFor('203.0.113.9', '/ask?domain=app.example.com', holds)).toBe(403);
    expect(await statusFor('::ffff:10.1.2.3', '/ask?domain=app.example.com', holds)).toBe(403);
    expect(asked).toBe(0);
    expect(await statusFor('127.0.0.1', '/ask?domain=app.example.com', holds)).toBe(200);
    expect(asked).toBe(1);
  });

  it('answers 200 held, 404 not held, 400 no valid domain, 404 another path, 500 a failed lookup', async () => {
    const holds = async (d: string) => d === 'held.example.com';
    expect(await statusFor('::1', '/ask?domain=held.example.com', holds)).toBe(200);
    expect(await statusFor('::1', '/ask?domain=other.example.com', holds)).toBe(404);
    expect(await statusFor('::1', '/ask?domain=%2F', holds)).toBe(400);
    expect(await statusFor('::1', '/nope?domain=held.example.com', holds)).toBe(404);
    expect(await statusFor('::1', '/ask?domain=held.example.com', () => Promise.reject(new Error('db')))).toBe(500);
  });
});
