import { DockerError } from './DockerError.js';

/**
 * Longest log line kept, in bytes of its text (the engine's timestamp not counted). A longer line is cut at this
 * many bytes (never inside a UTF-8 character) and ends with `truncationMarker(n)`, n being the bytes cut off. Applies
 * to logs(), followLogs(), build output and git's progress lines alike.
 */
export const MAX_LOG_LINE_BYTES = 16 * 1024;

/**
 * Most bytes one logs() snapshot answers with, counted as the UTF-8 bytes of the lines' texts: when the lines asked
 * for (`tail`) are more, the oldest are left out and the newest kept.
 */
export const MAX_LOGS_SNAPSHOT_BYTES = 2 * 1024 * 1024;

/** What ends a line that was cut: `… [truncated 12345 bytes]`. */
export function truncationMarker(droppedBytes: number): string {
  return `… [truncated ${droppedBytes} bytes]`;
}

/** The longest prefix of `buf` of at most `max` bytes that does not end inside a UTF-8 character. */
export function utf8Prefix(buf: Buffer, max: number): Buffer {
  if (buf.length <= max) return buf;
  let end = Math.max(max, 0);
  // buf[end] is the first byte left out: when it continues a character (10xxxxxx), that character would be cut in
  // two, so its lead byte goes too (a UTF-8 character is at most 4 bytes).
  for (let n = 0; end > 0 && n < 4 && ((buf[end] ?? 0) & 0xc0) === 0x80; n++) end--;
  return buf.subarray(0, end);
}

/** `text` cut to `maxBytes` UTF-8 bytes with the marker, or as it is when it fits. */
export function truncateLine(text: string, maxBytes = MAX_LOG_LINE_BYTES): string {
  // Cheap test first: a string of n UTF-16 units is at most 3n UTF-8 bytes.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const kept = utf8Prefix(bytes, maxBytes);
  return kept.toString('utf8') + truncationMarker(bytes.length - kept.length);
}

export interface TextLinesOptions {
  /** Longest line, in UTF-8 bytes. */
  maxBytes: number;
  /** `truncate` (default): cut the line and mark it. `throw`: a DockerError('engine'), for streams that must be whole (JSON). */
  overflow?: 'truncate' | 'throw';
  /** Also end lines at a lone `\r` (git's progress output); `\r\n` stays one break. */
  breakOnCR?: boolean;
  /** Names the stream in the `throw` error. */
  what?: string;
}

/**
 * Splits text arriving in chunks into lines, in time linear in the text received and memory bounded by `maxBytes`:
 * each chunk is scanned once, the current line is held as a list of pieces (never re-joined or re-split), and what
 * goes beyond `maxBytes` is counted, not kept.
 */
export class TextLines {
  private parts: string[] = [];
  private kept = 0;
  private dropped = 0;
  private afterCR = false;
  private readonly breaks: RegExp;

  constructor(private readonly o: TextLinesOptions) {
    this.breaks = o.breakOnCR ? /\r\n|\r|\n/g : /\n/g;
  }

  push(text: string): string[] {
    const out: string[] = [];
    let start = 0;
    // A `\r\n` split across two chunks is one break.
    if (this.afterCR && text.startsWith('\n')) start = 1;
    this.afterCR = false;
    const re = this.breaks;
    re.lastIndex = start;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      this.take(text.slice(start, m.index));
      out.push(this.end());
      start = m.index + m[0].length;
      if (m[0] === '\r' && start === text.length) this.afterCR = true;
    }
    if (start < text.length) this.take(text.slice(start));
    return out;
  }

  /** The last line when the stream ended without a newline (nothing when there is none). */
  flush(): string[] {
    if (this.parts.length === 0 && this.dropped === 0) return [];
    return [this.end()];
  }

  private take(piece: string): void {
    if (!piece) return;
    const room = this.o.maxBytes - this.kept;
    const bytes = Buffer.byteLength(piece);
    if (bytes <= room) {
      this.parts.push(piece);
      this.kept += bytes;
      return;
    }
    if (this.o.overflow === 'throw')
      throw new DockerError('engine', `${this.o.what ?? 'the Docker engine'} sent a line longer than ${this.o.maxBytes} bytes`);
    if (room > 0) {
      const cut = utf8Prefix(Buffer.from(piece, 'utf8'), room);
      this.parts.push(cut.toString('utf8'));
      this.kept += cut.length;
      this.dropped += bytes - cut.length;
      // Nothing more fits: later pieces of this line are only counted.
      this.kept = this.o.maxBytes;
    } else this.dropped += bytes;
  }

  private end(): string {
    const line = this.parts.length === 1 ? (this.parts[0] as string) : this.parts.join('');
    const dropped = this.dropped;
    this.parts = [];
    this.kept = 0;
    this.dropped = 0;
    return dropped ? line + truncationMarker(dropped) : line;
  }
}

/**
 * Keeps the last `maxChars` characters of a text stream (git's stderr), in time linear in what it is given and
 * memory bounded by about twice `maxChars`.
 */
export class TextTail {
  private parts: string[] = [];
  private head = 0;
  private size = 0;
  private droppedAny = false;

  constructor(private readonly maxChars: number) {}

  push(text: string): void {
    if (!text) return;
    this.parts.push(text);
    this.size += text.length;
    // Drop whole pieces from the front while what stays still covers the budget.
    while (this.parts.length - this.head > 1 && this.size - (this.parts[this.head] as string).length >= this.maxChars) {
      this.size -= (this.parts[this.head] as string).length;
      this.parts[this.head++] = '';
      this.droppedAny = true;
    }
    if (this.head > 1024 && this.head * 2 > this.parts.length) {
      this.parts = this.parts.slice(this.head);
      this.head = 0;
    }
    // One piece much larger than the budget: keep only its end.
    if (this.parts.length - this.head === 1 && this.size > this.maxChars * 2) {
      this.parts[this.head] = (this.parts[this.head] as string).slice(-this.maxChars);
      this.size = this.maxChars;
      this.droppedAny = true;
    }
  }

  /** The kept text, at most `maxChars` long; `truncated` says whether anything was left out. */
  text(): { text: string; truncated: boolean } {
    const all = this.parts.slice(this.head).join('');
    return { text: all.length > this.maxChars ? all.slice(-this.maxChars) : all, truncated: this.droppedAny || all.length > this.maxChars };
  }
}
