import { describe, expect, it } from 'vitest';
import { LineSplitter } from './LineSplitter.js';

describe('LineSplitter', () => {
  it('gives whole lines whatever the chunk borders, even inside a UTF-8 character', () => {
    const bytes = Buffer.from('{"a":"é€"}\n{"b":2}\n{"c":', 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = new LineSplitter(1000);
      expect([...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))]).toEqual(['{"a":"é€"}', '{"b":2}']);
    }
    const one = new LineSplitter(1000);
    const lines: string[] = [];
    for (const b of bytes) lines.push(...one.push(Uint8Array.of(b)));
    expect(lines).toEqual(['{"a":"é€"}', '{"b":2}']);
  });

  it('refuses a line that never ends instead of buffering it', () => {
    const s = new LineSplitter(10);
    expect(s.push('0123456789')).toEqual([]);
    expect(() => s.push('x')).toThrow(/longer than 10/);
  });
});
