import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { readTarFile } from './secretFiles.js';
import { tarFiles } from './tarFiles.js';

/** A stream of `buf` in 4 KiB chunks that counts what was read from it. */
function counted(buf: Buffer): { stream: Readable; read: () => number } {
  let read = 0;
  const stream = Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += 4096) {
        read += Math.min(4096, buf.length - i);
        yield buf.subarray(i, i + 4096);
      }
    })(),
  );
  return { stream, read: () => read };
}

describe('readTarFile', () => {
  it('reads a file within the limit', async () => {
    const tar = tarFiles([{ name: 'passwd', content: Buffer.from('root:x:0:0::/root:/bin/sh\n'), mode: 0o644, uid: 0, gid: 0 }]);
    expect(await readTarFile(counted(tar).stream, 1024)).toBe('root:x:0:0::/root:/bin/sh\n');
  });

  it('gives up on a larger file at its header, without reading it', async () => {
    const tar = tarFiles([{ name: 'passwd', content: Buffer.alloc(4 * 1024 * 1024, 'x'), mode: 0o644, uid: 0, gid: 0 }]);
    const c = counted(tar);
    expect(await readTarFile(c.stream, 1024 * 1024)).toBeNull();
    expect(c.read()).toBeLessThanOrEqual(8192);
  });
});
