import { DockerError } from './DockerError.js';

/**
 * Splits a byte stream into lines. Chunk borders may fall anywhere, even inside a UTF-8 character. A line longer
 * than `maxLine` characters throws: a peer that never sends a newline must not grow the buffer without bound.
 */
export class LineSplitter {
  private readonly decoder = new TextDecoder('utf-8');
  private rest = '';

  constructor(private readonly maxLine: number) {}

  push(chunk: Uint8Array | string): string[] {
    this.rest += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines = this.rest.split('\n');
    this.rest = lines.pop() ?? '';
    if (this.rest.length > this.maxLine)
      throw new DockerError('engine', `the Docker engine sent a line longer than ${this.maxLine} characters`);
    return lines;
  }
}
