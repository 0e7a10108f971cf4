// Issue 11 on the real engine: what a tenant's container holds (capabilities, open files), what a tenant's build may
// ask of the engine (ADD from a URL, another org's image, unlimited resources), and how much of a tenant's output is
// kept (log lines, log snapshots, /etc/passwd). Each asserts what the kernel or the engine sees, not the options sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  ADD_URL_REFUSED,
  CONTAINER_CAPABILITIES,
  CONTAINER_NOFILE_LIMIT,
  createDockerodeDriver,
  LABELS,
  MAX_LOG_LINE_BYTES,
  MAX_LOGS_SNAPSHOT_BYTES,
  MAX_PASSWD_BYTES,
  type ContainerSpec,
  type DockerDriver,
  type LogLine,
} from '../src/index.js';
import { buildBusybox, busyboxDir, docker, runLabels, uniqueName } from './helpers/engine.js';
import { failure } from './helpers/failure.js';

const labels = runLabels();
/** Label sets of images built "for another org", removed after this run's own (which may be built on them). */
const otherOrgs: (typeof labels)[] = [];
let driver: DockerDriver;
let image: string;

const IDLE = 'trap "exit 0" TERM; while true; do sleep 0.2; done';

function spec(over: Partial<ContainerSpec> = {}): ContainerSpec {
  return { name: uniqueName('cyn-conf'), image, command: ['sh', '-c', IDLE], labels: { ...labels, [LABELS.app]: 'conf' }, ...over };
}

/** Polls until `fn` answers something truthy (a condition, never a fixed sleep); fails after `timeoutMs`. */
async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The log lines of a container once one of them is `last`. */
const linesUntil = (id: string, last: string, tail = 1000): Promise<LogLine[]> =>
  until(`"${last}" in the logs of ${id}`, async () => {
    const l = await driver.logs(id, { tail });
    return l.some((x) => x.text === last) ? l : undefined;
  });

/** Builds `dockerfile` (on this run's busybox image unless it says otherwise) in a directory of its own. */
async function build(dockerfile: string, o: { labels?: typeof labels; cpu?: number; memoryMb?: number; onLine?: (l: string) => void } = {}) {
  const dir = busyboxDir();
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  try {
    return await driver.buildFromDirectory({
      dir,
      tag: `cynchro-test-conf:${randomBytes(4).toString('hex')}`,
      labels: o.labels ?? labels,
      ...(o.cpu !== undefined ? { cpu: o.cpu } : {}),
      ...(o.memoryMb !== undefined ? { memoryMb: o.memoryMb } : {}),
      ...(o.onLine ? { onLine: o.onLine } : {}),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  driver = createDockerodeDriver();
  image = await buildBusybox(driver, labels);
});

afterAll(async () => {
  await driver?.removeByLabels(labels);
  for (const other of otherOrgs) await driver?.removeByLabels(other);
  await driver?.close();
});

describe('containers hold only what they need', () => {
  it('runs with exactly the documented capabilities and the nofile limit, as the kernel reports them', async () => {
    const c = await driver.runContainer(
      spec({ command: ['sh', '-c', `grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status; echo "nofile $(ulimit -n) $(ulimit -Hn)"; echo DONE; ${IDLE}`] }),
    );
    const lines = (await linesUntil(c.id, 'DONE')).map((l) => l.text);
    // CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5, SETGID 6, SETUID 7, NET_BIND_SERVICE 10.
    const bits = { CHOWN: 0, DAC_OVERRIDE: 1, FOWNER: 3, FSETID: 4, KILL: 5, SETGID: 6, SETUID: 7, NET_BIND_SERVICE: 10 } as const;
    const mask = CONTAINER_CAPABILITIES.reduce((m, cap) => m | (1n << BigInt(bits[cap])), 0n);
    expect(mask).toBe(0x4fbn);
    const caps = Object.fromEntries(lines.filter((l) => l.startsWith('Cap')).map((l) => l.split(/:\s+/) as [string, string]));
    expect(Object.keys(caps).sort()).toEqual(['CapBnd', 'CapEff', 'CapPrm']);
    for (const v of Object.values(caps)) expect(BigInt(`0x${v}`)).toBe(mask);
    expect(lines).toContain(`nofile ${CONTAINER_NOFILE_LIMIT.soft} ${CONTAINER_NOFILE_LIMIT.hard}`);
    const host = (await docker.getContainer(c.id).inspect()).HostConfig;
    expect(host).toMatchObject({ CapDrop: ['ALL'], CapAdd: [...CONTAINER_CAPABILITIES], SecurityOpt: ['no-new-privileges'] });
  });
});

describe('images are named, and an org runs and builds on its own images only', () => {
  it('refuses an id prefix of an image on the engine, which the engine itself would run', async () => {
    const id = (await driver.inspectImage(image))?.id ?? '';
    const prefix = id.slice('sha256:'.length, 'sha256:'.length + 6);
    // The engine resolves the prefix (what a tenant could do until now) ...
    expect((await docker.getImage(prefix).inspect()).Id).toBe(id);
    // ... the driver refuses it everywhere, and nothing was created.
    const s = spec({ image: prefix });
    expect((await failure(driver.runContainer(s))).code).toBe('invalid_ref');
    expect((await failure(driver.imageExists(prefix))).code).toBe('invalid_ref');
    expect((await failure(driver.runContainer(spec({ image: `sha256:${prefix}` })))).code).toBe('invalid_ref');
    expect((await driver.listContainers(labels, { all: true })).map((x) => x.name)).not.toContain(s.name);
  });

  it('refuses to build FROM, or COPY --from, another org\'s image by id prefix or by name', async () => {
    const otherLabels = { ...labels, [LABELS.org]: `other-${randomBytes(4).toString('hex')}` };
    otherOrgs.push(otherLabels);
    const secret = `BAKED-${randomBytes(6).toString('hex')}`;
    const other = await build(`FROM scratch\nCOPY busybox /bin/busybox\nLABEL secret=${secret}\n`, { labels: otherLabels });
    try {
      const prefix = other.imageId.slice('sha256:'.length, 'sha256:'.length + 8);
      for (const df of [
        `FROM ${prefix}\nRUN ["/bin/busybox","true"]\n`,
        `FROM sha256:${prefix}\n`,
        `FROM ${image}\nCOPY --from=${prefix} /bin/busybox /stolen\n`,
      ]) {
        const e = await failure(build(df));
        expect(`${df} → ${e.code}`).toBe(`${df} → build_failed`);
        expect(e.message).toMatch(/image id|never by id/);
      }
      for (const df of [`FROM ${other.tag}\n`, `FROM ${image}\nCOPY --from=${other.tag} /bin/busybox /stolen\n`]) {
        const e = await failure(build(df));
        expect(e).toMatchObject({ code: 'build_failed', message: expect.stringContaining('was built for another org') });
      }
      // Our own images stay usable by name, as a base and as a COPY --from source.
      await build(`FROM ${image} AS base\nFROM ${image}\nCOPY --from=base /bin/busybox /copied\nCOPY --from=${image} /bin/busybox /copied2\n`);
    } finally {
      // Fails only if something was built on it (the refusals above did not hold): afterAll removes it then.
      await driver.removeImage(other.imageId).catch(() => undefined);
    }
  });
});

describe('builds stay off the host', () => {
  let server: Server;
  const requests: string[] = [];
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('{"admin":"config of the host"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('refuses ADD from a loopback URL before the engine fetches it, and says how to fetch instead', async () => {
    for (const df of [
      `FROM ${image}\nADD ${url}/config/ /config.json\n`,
      `FROM ${image}\nRUN true\nadd \\\n  # a comment in between\n  ["${url}/config/", "/c"]\n`,
      `FROM ${image}\nARG U=${url}/config/\nADD $U /c\n`,
      `# escape=\`\nFROM ${image}\nRUN echo \\\nADD ${url}/config/ /c\n`,
    ]) {
      const lines: string[] = [];
      const e = await failure(build(df, { onLine: (l) => lines.push(l) }));
      expect(e.code).toBe('build_failed');
      expect(e.message).toMatch(/ADD (from a URL|with a variable in its source) is refused/);
      expect(lines.some((l) => l.startsWith('ERROR: '))).toBe(true);
    }
    expect((await failure(build(`FROM ${image}\nADD ${url}/x /x\n`))).message).toContain(ADD_URL_REFUSED);
    // The engine never asked the host's loopback service for anything.
    expect(requests).toEqual([]);
  });

  it('gives each RUN step the memory and CPU limits, the defaults or the ones asked for', async () => {
    // A nonce in the command: the second build must not answer from the first one's cache.
    const probe = () =>
      'RUN ["/bin/sh","-c","echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); ' +
      `echo cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max); echo ${randomBytes(4).toString('hex')}"]\n`;
    const defaults: string[] = [];
    await build(`FROM ${image}\n${probe()}`, { onLine: (l) => defaults.push(l) });
    expect(defaults).toContain(`mem=${2048 * 1024 * 1024}`);
    expect(defaults).toContain('cpu=100000');
    const asked: string[] = [];
    await build(`FROM ${image}\n${probe()}`, { cpu: 0.5, memoryMb: 300, onLine: (l) => asked.push(l) });
    expect(asked).toContain(`mem=${300 * 1024 * 1024}`);
    expect(asked).toContain('cpu=50000');
    expect((await failure(build(`FROM ${image}\n`, { memoryMb: 1 }))).code).toBe('invalid_ref');
  });
});

describe('what a tenant prints is bounded', () => {
  it('cuts long log lines and keeps a snapshot within its byte budget, newest lines kept', async () => {
    // 200 KB on one line, then 3.2 MB of 16,000-byte lines, then END.
    const script =
      'head -c 200000 /dev/zero | tr "\\0" x; echo; i=0; while [ $i -lt 200 ]; do head -c 16000 /dev/zero | tr "\\0" y; echo " $i"; i=$((i+1)); done; echo END; ' +
      IDLE;
    const c = await driver.runContainer(spec({ command: ['sh', '-c', script] }));
    const snapshot = await linesUntil(c.id, 'END', 100_000);
    const bytes = snapshot.reduce((n, l) => n + Buffer.byteLength(l.text), 0);
    expect(bytes).toBeLessThanOrEqual(MAX_LOGS_SNAPSHOT_BYTES);
    expect(bytes).toBeGreaterThan(MAX_LOGS_SNAPSHOT_BYTES - 20_000);
    expect(snapshot.at(-1)?.text).toBe('END');
    expect(snapshot.at(-2)?.text).toBe(`${'y'.repeat(16000)} 199`);
    expect(snapshot.some((l) => l.text.startsWith('x'))).toBe(false);
    // Following from the start delivers the long line cut, with the marker.
    const ac = new AbortController();
    let first: string | undefined;
    for await (const l of driver.followLogs(c.id, { signal: ac.signal })) {
      first = l.text;
      break;
    }
    ac.abort();
    expect(first?.length).toBeLessThan(MAX_LOG_LINE_BYTES + 40);
    expect(first).toMatch(new RegExp(`^x{${MAX_LOG_LINE_BYTES}}… \\[truncated \\d+ bytes\\]$`));
    const tail = await driver.logs(c.id, { tail: 210 });
    expect(tail.find((l) => l.text.startsWith('x'))).toBeUndefined();
  });

  it('does not read an image\'s /etc/passwd beyond its cap: a named user is then unknown, and the error says why', async () => {
    // 70,000 valid entries (about 2 MB), the app user last.
    const big = await build(
      `FROM ${image}\nRUN ["/bin/sh","-c","echo root:x:0:0::/root:/bin/sh > /etc/passwd && seq 1 70000 | sed 's|.*|u&:x:&:&::/:/bin/false|' >> /etc/passwd && echo app:x:91234:91234::/:/bin/sh >> /etc/passwd && test $(wc -c < /etc/passwd) -gt ${MAX_PASSWD_BYTES}"]\nUSER app\n`,
    );
    const e = await failure(driver.runContainer(spec({ image: big.tag, secretFiles: { TOKEN: 'x' } })));
    expect(e.code).toBe('engine');
    expect(e.message).toContain(`larger than ${MAX_PASSWD_BYTES} bytes`);
    expect(e.message).toContain('numeric USER');
    // A numeric USER needs no lookup.
    const numeric = await build(`FROM ${big.tag}\nUSER 91234:91234\n`);
    const c = await driver.runContainer(spec({ image: numeric.tag, secretFiles: { TOKEN: 'x' } }));
    expect(c.running).toBe(true);
  });
});
