import { describe, expect, it } from 'vitest';
import { LineSplitter } from './LineSplitter.js';
import { LogDecoder } from './LogDecoder.js';
import { MAX_LOG_LINE_BYTES, TextLines, TextTail, truncateLine, truncationMarker, utf8Prefix } from './lines.js';

const MIB = 1024 * 1024;

/** The fastest of three runs, in ms: one slow run on a busy machine says nothing. */
function fastest(run: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** 8 MiB in 1 KiB chunks: one endless line, or (the baseline) the same bytes as 100-byte lines. */
function chunks(withNewlines: boolean): Buffer[] {
  const out: Buffer[] = [];
  const line = Buffer.alloc(100, 'x');
  line[99] = 0x0a;
  const pattern = withNewlines ? Buffer.concat(Array.from({ length: 11 }, () => line)) : Buffer.alloc(1100, 'x');
  for (let sent = 0; sent < 8 * MIB; sent += 1024) out.push(pattern.subarray(0, 1024));
  return out;
}

/** Engine log frames (8-byte headers) of `payload`, each at most 1000 bytes, cut into 999-byte chunks. */
function framed(payload: Buffer[]): Buffer[] {
  const frames: Buffer[] = [];
  for (const p of payload) {
    for (let i = 0; i < p.length; i += 1000) {
      const body = p.subarray(i, i + 1000);
      const head = Buffer.alloc(8);
      head[0] = 1;
      head.writeUInt32BE(body.length, 4);
      frames.push(head, body);
    }
  }
  const all = Buffer.concat(frames);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i += 999) out.push(all.subarray(i, i + 999));
  return out;
}

describe('line splitting is linear in the bytes received and bounded in memory', () => {
  it('TextLines: 8 MiB without a newline costs about what the same bytes with newlines cost, and is cut', () => {
    const endless = chunks(false).map((c) => c.toString('latin1'));
    const lines = chunks(true).map((c) => c.toString('latin1'));
    let out: string[] = [];
    const slow = fastest(() => {
      const t = new TextLines({ maxBytes: MAX_LOG_LINE_BYTES });
      out = [];
      for (const c of endless) out.push(...t.push(c));
      out.push(...t.flush());
    });
    const base = fastest(() => {
      const t = new TextLines({ maxBytes: MAX_LOG_LINE_BYTES });
      for (const c of lines) t.push(c);
    });
    expect(out).toHaveLength(1);
    expect(out[0]).toBe('x'.repeat(MAX_LOG_LINE_BYTES) + truncationMarker(8 * MIB - MAX_LOG_LINE_BYTES));
    // Re-scanning a growing buffer would be thousands of times slower; a generous ratio keeps CI noise out.
    expect(slow / Math.max(base, 1)).toBeLessThan(10);
  });

  it('LogDecoder: an 8 MiB line in frames cut anywhere is linear, truncated, and never held whole', () => {
    const ts = Buffer.from('2024-05-01T12:00:00.000000001Z ');
    const endless = framed([ts, ...chunks(false)]);
    const lines = framed(chunks(true));
    let out: { text: string }[] = [];
    let heldMax = 0;
    const slow = fastest(() => {
      const d = new LogDecoder('c1');
      out = [];
      heldMax = 0;
      for (const c of endless) {
        out.push(...d.push(c));
        heldMax = Math.max(heldMax, (d as unknown as { pending?: { stdout?: { kept?: number } } }).pending?.stdout?.kept ?? 0);
      }
      out.push(...d.flush());
    });
    const base = fastest(() => {
      const d = new LogDecoder('c1');
      for (const c of lines) d.push(c);
    });
    expect(out).toHaveLength(1);
    expect(out[0]?.text).toBe('x'.repeat(MAX_LOG_LINE_BYTES) + truncationMarker(8 * MIB - MAX_LOG_LINE_BYTES));
    expect(heldMax).toBeLessThanOrEqual(MAX_LOG_LINE_BYTES + 64);
    expect(slow / Math.max(base, 1)).toBeLessThan(10);
  });

  it('LineSplitter (engine events): an endless line is refused early, in linear time', () => {
    const s = new LineSplitter(4 * MIB);
    const endless = chunks(false);
    const t0 = performance.now();
    let thrown: unknown;
    try {
      for (const c of endless) s.push(c);
    } catch (err) {
      thrown = err;
    }
    expect(String(thrown)).toMatch(/longer than 4194304 bytes/);
    const slow = performance.now() - t0;
    const base = fastest(() => {
      const b = new LineSplitter(4 * MIB);
      for (const c of chunks(true)) b.push(c);
    });
    expect(slow / Math.max(base, 1)).toBeLessThan(10);
  });
});

describe('TextLines', () => {
  it('cuts a long line at a byte budget without splitting a character, and says how much went', () => {
    const t = new TextLines({ maxBytes: 10 });
    expect(t.push('ééééé')).toEqual([]); // 10 bytes: fits
    expect(t.push('é\nnext')).toEqual([`ééééé${truncationMarker(2)}`]);
    expect(t.flush()).toEqual(['next']);
    expect(new TextLines({ maxBytes: 3 }).push('aé€\n')).toEqual([`aé${truncationMarker(3)}`]);
  });

  it('breaks on a lone CR when asked (git progress), keeping a CRLF split across chunks one break', () => {
    const t = new TextLines({ maxBytes: 100, breakOnCR: true });
    expect(t.push('10%\r20%\r')).toEqual(['10%', '20%']);
    expect(t.push('\ndone\r\n')).toEqual(['done']);
  });

  it('throws instead when asked to', () => {
    const t = new TextLines({ maxBytes: 4, overflow: 'throw', what: 'the test' });
    expect(() => t.push('12345')).toThrow(/the test sent a line longer than 4 bytes/);
  });
});

describe('TextTail', () => {
  it('keeps the end of a long stream, in pieces of any size', () => {
    const t = new TextTail(10);
    for (const c of 'abcdefghijklmnopqrstuvwxyz') t.push(c);
    expect(t.text()).toEqual({ text: 'qrstuvwxyz', truncated: true });
    const big = new TextTail(5);
    big.push('x'.repeat(100) + 'HELLO');
    expect(big.text()).toEqual({ text: 'HELLO', truncated: true });
    const small = new TextTail(5);
    small.push('ab');
    expect(small.text()).toEqual({ text: 'ab', truncated: false });
  });
});

describe('utf8Prefix and truncateLine', () => {
  it('never cuts a character in two', () => {
    const b = Buffer.from('a€b', 'utf8'); // 1 + 3 + 1 bytes
    expect(utf8Prefix(b, 1).toString()).toBe('a');
    expect(utf8Prefix(b, 2).toString()).toBe('a');
    expect(utf8Prefix(b, 3).toString()).toBe('a');
    expect(utf8Prefix(b, 4).toString()).toBe('a€');
    expect(truncateLine('short')).toBe('short');
    expect(truncateLine('€€', 4)).toBe(`€${truncationMarker(3)}`);
  });
});
