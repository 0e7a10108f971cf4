import { TextLines } from './lines.js';

/**
 * Splits a byte stream into lines. Chunk borders may fall anywhere, even inside a UTF-8 character. A line longer
 * than `maxLine` bytes throws: a peer that never sends a newline must not grow the buffer without bound. Linear in
 * the bytes received: each chunk is decoded and scanned once (see TextLines).
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly lines: TextLines;

  constructor(maxLine: number, what = 'the Docker engine') {
    this.lines = new TextLines({ maxBytes: maxLine, overflow: 'throw', what });
  }

  push(chunk: Uint8Array | string): string[] {
    return this.lines.push(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
  }

  /** The last line when the stream ended without a newline. */
  flush(): string[] {
    const rest = this.decoder.decode();
    return [...(rest ? this.lines.push(rest) : []), ...this.lines.flush()];
  }
}
