import { describe, expect, it } from 'vitest';
import { truncationMarker } from './lines.js';
import { LogDecoder, timestampKey } from './LogDecoder.js';

function frame(stream: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

function rawFrame(stream: 1 | 2, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('LogDecoder', () => {
  it('demultiplexes frames split anywhere, and lines split across frames', () => {
    const d = new LogDecoder('c1');
    const all = Buffer.concat([
      frame(1, '2024-05-01T12:00:00.000000001Z hello\n2024-05-01T12:00:00.000000002Z wor'),
      frame(2, '2024-05-01T12:00:00.000000003Z oops\n'),
      frame(1, 'ld\n'),
    ]);
    const out = [...d.push(all.subarray(0, 5)), ...d.push(all.subarray(5, 40)), ...d.push(all.subarray(40)), ...d.flush()];
    expect(out).toEqual([
      { stream: 'stdout', timestamp: '2024-05-01T12:00:00.000000001Z', text: 'hello', containerId: 'c1' },
      { stream: 'stderr', timestamp: '2024-05-01T12:00:00.000000003Z', text: 'oops', containerId: 'c1' },
      { stream: 'stdout', timestamp: '2024-05-01T12:00:00.000000002Z', text: 'world', containerId: 'c1' },
    ]);
  });

  it('keeps a last line without newline until flushed, and reads a TTY stream as raw stdout', () => {
    const d = new LogDecoder();
    expect(d.push(frame(1, '2024-05-01T12:00:00Z partial'))).toEqual([]);
    expect(d.flush()).toEqual([{ stream: 'stdout', timestamp: '2024-05-01T12:00:00Z', text: 'partial' }]);
    const tty = new LogDecoder();
    expect(tty.push(Buffer.from('2024-05-01T12:00:00.5Z raw line\r\n'))).toEqual([
      { stream: 'stdout', timestamp: '2024-05-01T12:00:00.5Z', text: 'raw line' },
    ]);
  });

  it('cuts a long line after its timestamp and keeps a character split across frames whole', () => {
    const d = new LogDecoder('c1', 8);
    const text = Buffer.from('2024-05-01T12:00:00Z aé€bcdefghij\n', 'utf8');
    // Cut inside the €, in two frames.
    const cut = text.indexOf(0xe2) + 1;
    const out = [...d.push(rawFrame(1, text.subarray(0, cut))), ...d.push(rawFrame(1, text.subarray(cut)))];
    // "aé€bc" is 1 + 2 + 3 + 2 = 8 bytes; "defghij" (7 bytes) goes.
    expect(out).toEqual([{ stream: 'stdout', timestamp: '2024-05-01T12:00:00Z', text: `aé€bc${truncationMarker(7)}`, containerId: 'c1' }]);
  });

  it('orders timestamps of different precision correctly', () => {
    expect(timestampKey('2024-05-01T12:00:00.1Z') > timestampKey('2024-05-01T12:00:00.09Z')).toBe(true);
    expect(timestampKey('2024-05-01T12:00:00Z') < timestampKey('2024-05-01T12:00:00.000000001Z')).toBe(true);
  });
});
