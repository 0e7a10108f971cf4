import { MAX_LOG_LINE_BYTES, truncationMarker, utf8Prefix } from './lines.js';
import type { LogLine } from './types.js';

type Stream = 'stdout' | 'stderr';

/** Room for the engine's timestamp ("2024-05-01T12:00:00.123456789Z ") in front of a line's text. */
const TIMESTAMP_ROOM = 64;

interface Pending {
  parts: Buffer[];
  kept: number;
  dropped: number;
  /** The last byte received for this line (a dropped trailing \r is not counted as text). */
  last: number;
}

/**
 * Turns the engine's log stream (8-byte multiplexing headers, `timestamps=true`) into lines. Frames and lines do
 * not line up (a long line spans frames, a frame may hold several lines), so each stream keeps its own current
 * line. A container with a TTY sends raw bytes; that is detected from the first byte and treated as stdout.
 *
 * Linear in the bytes received and bounded in memory whatever the container prints: frame payloads are consumed as
 * they arrive (a frame is never reassembled), each byte is scanned for a newline once, and a line keeps at most
 * `maxLineBytes` of text: the rest is counted and the line ends with `… [truncated N bytes]`. Bytes are only
 * decoded once a line is complete, so a UTF-8 character split across frames stays whole.
 */
export class LogDecoder {
  private raw: boolean | undefined;
  private readonly header = Buffer.alloc(8);
  private headerLen = 0;
  /** Payload bytes still to come in the current frame. */
  private remaining = 0;
  private stream: Stream = 'stdout';
  private readonly pending: Record<Stream, Pending> = { stdout: fresh(), stderr: fresh() };

  constructor(
    private readonly containerId?: string,
    private readonly maxLineBytes = MAX_LOG_LINE_BYTES,
  ) {}

  push(chunk: Buffer): LogLine[] {
    const out: LogLine[] = [];
    if (chunk.length === 0) return out;
    this.raw ??= !(chunk[0] === 0 || chunk[0] === 1 || chunk[0] === 2);
    if (this.raw) {
      this.bytes('stdout', chunk, out);
      return out;
    }
    let pos = 0;
    while (pos < chunk.length) {
      if (this.remaining === 0) {
        const n = Math.min(8 - this.headerLen, chunk.length - pos);
        chunk.copy(this.header, this.headerLen, pos, pos + n);
        this.headerLen += n;
        pos += n;
        if (this.headerLen < 8) break;
        this.headerLen = 0;
        this.stream = this.header[0] === 2 ? 'stderr' : 'stdout';
        this.remaining = this.header.readUInt32BE(4);
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - pos);
      this.bytes(this.stream, chunk.subarray(pos, pos + n), out);
      this.remaining -= n;
      pos += n;
    }
    return out;
  }

  /** Whatever is left without a trailing newline, at the end of a stream. */
  flush(): LogLine[] {
    const out: LogLine[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      const p = this.pending[s];
      if (p.parts.length || p.dropped) out.push(this.end(s));
    }
    return out;
  }

  private bytes(stream: Stream, data: Buffer, out: LogLine[]): void {
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl === -1) {
        this.take(stream, data.subarray(start));
        return;
      }
      this.take(stream, data.subarray(start, nl));
      out.push(this.end(stream));
      start = nl + 1;
    }
  }

  private take(stream: Stream, piece: Buffer): void {
    if (piece.length === 0) return;
    const p = this.pending[stream];
    p.last = piece[piece.length - 1] as number;
    const room = this.maxLineBytes + TIMESTAMP_ROOM - p.kept;
    if (piece.length <= room) {
      // A copy: the engine's chunk must not be held alive by a short line (and callers may reuse buffers).
      p.parts.push(Buffer.from(piece));
      p.kept += piece.length;
    } else {
      if (room > 0) {
        p.parts.push(Buffer.from(piece.subarray(0, room)));
        p.kept += room;
      }
      p.dropped += piece.length - Math.max(room, 0);
    }
  }

  private end(stream: Stream): LogLine {
    const p = this.pending[stream];
    let raw = p.parts.length === 1 ? (p.parts[0] as Buffer) : Buffer.concat(p.parts);
    let dropped = p.dropped;
    if (dropped && p.last === 0x0d) dropped -= 1;
    else if (!dropped && raw[raw.length - 1] === 0x0d) raw = raw.subarray(0, raw.length - 1);
    this.pending[stream] = fresh();
    // "2024-05-01T12:00:00.123456789Z message"
    const sp = raw.subarray(0, TIMESTAMP_ROOM).indexOf(0x20);
    const ts = sp > 0 ? raw.subarray(0, sp).toString('latin1') : '';
    const valid = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(ts);
    let body = valid ? raw.subarray(sp + 1) : raw;
    if (body.length > this.maxLineBytes) {
      const kept = utf8Prefix(body, this.maxLineBytes);
      dropped += body.length - kept.length;
      body = kept;
    }
    const line: LogLine = {
      stream,
      timestamp: valid ? ts : new Date().toISOString(),
      text: body.toString('utf8') + (dropped ? truncationMarker(dropped) : ''),
    };
    if (this.containerId) line.containerId = this.containerId;
    return line;
  }
}

function fresh(): Pending {
  return { parts: [], kept: 0, dropped: 0, last: -1 };
}

/** Nanosecond-comparable key of an engine timestamp, to drop lines already seen when re-attaching. */
export function timestampKey(ts: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return ts;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}`;
}
