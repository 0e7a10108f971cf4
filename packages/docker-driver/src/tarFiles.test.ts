import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { tarFiles } from './tarFiles.js';

describe('tarFiles', () => {
  it('writes a ustar archive that tar reads back with modes and owners', () => {
    const tar = tarFiles([
      { name: 'A', content: Buffer.from('alpha'), mode: 0o400, uid: 1234, gid: 4321 },
      { name: 'EMPTY', content: Buffer.alloc(0), mode: 0o400, uid: 0, gid: 0 },
      { name: 'BIG', content: Buffer.alloc(1300, 'x'), mode: 0o400, uid: 0, gid: 0 },
    ]);
    expect(tar.length % 512).toBe(0);
    const list = spawnSync('tar', ['-tvf', '-', '--numeric-owner'], { input: tar, encoding: 'utf8' });
    expect(list.status).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^-r-------- 1234\/4321\s+5 .* A$/);
    expect(lines[1]).toMatch(/ 0 .* EMPTY$/);
    expect(lines[2]).toMatch(/ 1300 .* BIG$/);
    const a = spawnSync('tar', ['-xOf', '-', 'A'], { input: tar, encoding: 'utf8' });
    expect(a.stdout).toBe('alpha');
  });
});
