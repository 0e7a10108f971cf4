// Shared setup of the real-engine suites: a unique label per run, a busybox image built FROM scratch.
import Dockerode from 'dockerode';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LABELS, type DockerDriver, type Labels } from '../../src/index.js';

export const docker = new Dockerode();

/**
 * Labels unique to one test file's run; cleanup finds everything by them. Not `managed=true`: a control plane
 * reconciling on the same engine (the server's tests run alongside) removes every managed=true container it
 * does not know, which would pull containers out from under these tests.
 */
export function runLabels(): Labels & { [LABELS.org]: string } {
  return { [LABELS.managed]: 'driver-test', [LABELS.org]: `test-${randomBytes(6).toString('hex')}` };
}

/**
 * Labels for images that a control plane under test runs for its own orgs: no org label (an image labelled with an
 * org runs only for that org), a run label of their own for cleanup (`removeByLabels(imageLabels)`).
 */
export function imageLabels(): Labels {
  return { [LABELS.managed]: 'driver-test', 'cloud.cynchro.test-run': `test-${randomBytes(6).toString('hex')}` };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Writes a build directory: busybox plus a Dockerfile starting from a scratch busybox base. */
export function busyboxDir(extraDockerfile = '', files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cynchro-bb-'));
  copyFileSync('/bin/busybox', join(dir, 'busybox'));
  writeFileSync(
    join(dir, 'Dockerfile'),
    `FROM scratch\nENV PATH=/bin\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n${extraDockerfile}`,
  );
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** The base image of a test file, built once and labelled so afterAll's cleanup removes it. */
export async function buildBusybox(driver: DockerDriver, labels: Labels, extraDockerfile = ''): Promise<string> {
  const dir = busyboxDir(extraDockerfile);
  try {
    const tag = `cynchro-test-bb:${randomBytes(4).toString('hex')}`;
    await driver.buildFromDirectory({ dir, tag, labels });
    return tag;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a command inside a container and returns its output (stdout+stderr, demultiplexed). */
export async function exec(id: string, cmd: string[]): Promise<{ out: string; code: number }> {
  const e = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const sink = { write: (c: Buffer) => chunks.push(c) } as unknown as NodeJS.WritableStream;
    docker.modem.demuxStream(stream, sink, sink);
    stream.on('end', () => resolve());
    stream.on('error', reject);
  });
  const info = await e.inspect();
  return { out: Buffer.concat(chunks).toString('utf8'), code: info.ExitCode ?? -1 };
}

/** What `docker kill` does: SIGKILL from outside the platform (the restart policy leaves the container down). */
export async function killContainer(id: string): Promise<void> {
  await docker.getContainer(id).kill();
}

/** Files under /var/lib/docker holding `needle`, with the filesystem type each lives on. */
export function findOnDockerDisk(needle: string): { path: string; fs: string }[] {
  const r = spawnSync('grep', ['-rlF', '--', needle, '/var/lib/docker'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const paths = r.stdout.split('\n').filter(Boolean);
  return paths.map((path) => ({ path, fs: spawnSync('stat', ['-f', '-c', '%T', path], { encoding: 'utf8' }).stdout.trim() }));
}

