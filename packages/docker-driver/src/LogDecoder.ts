import type { LogLine } from './types.js';

const STREAMS = { 1: 'stdout', 2: 'stderr' } as const;

/**
 * Turns the engine's log stream (8-byte multiplexing headers, `timestamps=true`) into lines. Frames and lines do
 * not line up (a long line spans frames, a frame may hold several lines), so each stream keeps its own remainder.
 * A container with a TTY sends raw bytes; that is detected from the first byte and treated as stdout.
 */
export class LogDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private raw: boolean | undefined;
  private readonly rest: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };

  constructor(private readonly containerId?: string) {}

  push(chunk: Buffer): LogLine[] {
    const out: LogLine[] = [];
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.raw === undefined && this.buf.length > 0) this.raw = !(this.buf[0] === 0 || this.buf[0] === 1 || this.buf[0] === 2);
    if (this.raw) {
      this.text('stdout', this.buf.toString('utf8'), out);
      this.buf = Buffer.alloc(0);
      return out;
    }
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      const kind = this.buf[0] === 2 ? 'stderr' : STREAMS[1];
      this.text(kind, this.buf.subarray(8, 8 + size).toString('utf8'), out);
      this.buf = this.buf.subarray(8 + size);
    }
    return out;
  }

  /** Whatever is left without a trailing newline, at the end of a stream. */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      if (this.rest[s]) out.push(this.line(s, this.rest[s]));
      this.rest[s] = '';
    }
    return out;
  }

  private text(stream: 'stdout' | 'stderr', text: string, out: LogLine[]): void {
    const parts = (this.rest[stream] + text).split('\n');
    this.rest[stream] = parts.pop() ?? '';
    for (const p of parts) out.push(this.line(stream, p));
  }

  private line(stream: 'stdout' | 'stderr', raw: string): LogLine {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    // "2024-05-01T12:00:00.123456789Z message"
    const sp = text.indexOf(' ');
    const ts = sp > 0 ? text.slice(0, sp) : '';
    const valid = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(ts);
    const line: LogLine = {
      stream,
      timestamp: valid ? ts : new Date().toISOString(),
      text: valid ? text.slice(sp + 1) : text,
    };
    if (this.containerId) line.containerId = this.containerId;
    return line;
  }
}

/** Nanosecond-comparable key of an engine timestamp, to drop lines already seen when re-attaching. */
export function timestampKey(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return ts;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}`;
}
