export interface TarFile {
  name: string;
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

function field(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, length, 'utf8');
}

function octal(buf: Buffer, offset: number, length: number, value: number): void {
  field(buf, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

/**
 * A ustar archive built in memory. Secret files go to the engine from here, so their bytes never pass through
 * a file on this host.
 */
export function tarFiles(files: TarFile[]): Buffer {
  const blocks: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  for (const f of files) {
    if (Buffer.byteLength(f.name) > 100) throw new Error(`tar entry name too long: ${f.name}`);
    const h = Buffer.alloc(512);
    field(h, 0, 100, f.name);
    octal(h, 100, 8, f.mode);
    octal(h, 108, 8, f.uid);
    octal(h, 116, 8, f.gid);
    octal(h, 124, 12, f.content.length);
    octal(h, 136, 12, mtime);
    h.fill(' ', 148, 156);
    h.write('0', 156);
    field(h, 257, 6, 'ustar\0');
    field(h, 263, 2, '00');
    let sum = 0;
    for (const b of h) sum += b;
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(h, f.content);
    const pad = (512 - (f.content.length % 512)) % 512;
    if (pad) blocks.push(Buffer.alloc(pad));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
