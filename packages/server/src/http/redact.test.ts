import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { redactingLogger, redactUrl } from './redact.js';

describe('redactUrl', () => {
  it('replaces every token value, however the name is spelt or encoded', () => {
    expect(redactUrl('/apps/a/logs/stream?token=eyJ.abc.def&tail=20')).toBe('/apps/a/logs/stream?token=[REDACTED]&tail=20');
    expect(redactUrl('/x?tail=1&TOKEN=s3cret')).toBe('/x?tail=1&TOKEN=[REDACTED]');
    expect(redactUrl('/x?%74oken=s3cret&a=b')).toBe('/x?%74oken=[REDACTED]&a=b');
    expect(redactUrl('/x?token=a&token=b#frag')).toBe('/x?token=[REDACTED]&token=[REDACTED]#frag');
    expect(redactUrl('/x?access_token=s3cret')).toBe('/x?access_token=[REDACTED]');
    expect(redactUrl('/x?tokens=keep&mytoken=keep')).toBe('/x?tokens=keep&mytoken=keep');
    expect(redactUrl('/x?%zz=1&token=s')).toBe('/x?%zz=1&token=[REDACTED]');
    expect(redactUrl('/healthz')).toBe('/healthz');
  });
});

describe('redactingLogger', () => {
  it('serializes requests with the URL redacted', () => {
    const lines: string[] = [];
    const out = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    const log = redactingLogger(pino({ level: 'info' }, out));
    log.info({ req: { method: 'GET', url: '/apps/a/logs/stream?token=eyJ.s3cret', host: 'h', ip: '1.2.3.4', socket: { remotePort: 5 } } }, 'incoming request');
    expect(lines.join('')).toContain('token=[REDACTED]');
    expect(lines.join('')).not.toContain('s3cret');
  });
});
