import type Dockerode from 'dockerode';
import { DockerError, toDockerError } from './DockerError.js';
import { engineCall } from './engineCall.js';
import { tarFiles } from './tarFiles.js';
import type { Labels } from './types.js';

export const SECRETS_DIR = '/run/secrets';

/**
 * Why a tmpfs *volume* and not HostConfig.Tmpfs: the engine's archive API (putArchive) writes through the
 * daemon's view of the container filesystem. A HostConfig.Tmpfs mount exists only inside the container's mount
 * namespace, so on engine 20.10 the archive lands in the overlay upper dir on disk and the app never sees it.
 * A volume of the local driver with type=tmpfs is mounted by the daemon itself (in memory), so the archive lands
 * in RAM and is what the container sees. Anonymous, so it is removed with the container (`v: true`).
 */
export function secretsMount(labels: Labels): Dockerode.MountSettings {
  return {
    Type: 'volume',
    Source: '',
    Target: SECRETS_DIR,
    ReadOnly: false,
    VolumeOptions: {
      NoCopy: true,
      Labels: labels,
      DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m,mode=0755,noexec,nosuid,nodev' } },
    },
  } as Dockerode.MountSettings;
}

export function validateSecretKeys(files: Record<string, string>): void {
  for (const k of Object.keys(files)) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/.test(k))
      throw new DockerError('invalid_path', `secret file name "${k}" must be letters, digits, "_", "." or "-"`);
  }
}

/**
 * The most of a container's /etc/passwd or /etc/group that is read (they come from the tenant's image). A larger
 * file is not read at all: a named USER then cannot be resolved, exactly as a name missing from the file, and the
 * container is not started with its secret files (the error says to use a numeric USER); a numeric uid:gid never
 * needs the files. An unknown group name gets gid 0, as before.
 */
export const MAX_PASSWD_BYTES = 1024 * 1024;

/**
 * Reads the first file of a tar stream (the answer of getArchive), or null when it is larger than `maxBytes`: reading
 * stops at the header then, and never goes past 512 + maxBytes bytes.
 */
export async function readTarFile(stream: NodeJS.ReadableStream, maxBytes: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let have = 0;
  let size: number | undefined;
  for await (const c of stream as AsyncIterable<Buffer>) {
    chunks.push(c);
    have += c.length;
    if (size === undefined && have >= 512) {
      const head = Buffer.concat(chunks).subarray(0, 512);
      size = Number.parseInt(head.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim() || '0', 8);
      if (!Number.isFinite(size) || size > maxBytes) return null;
    }
    if (size !== undefined && have >= 512 + size) break;
  }
  const buf = Buffer.concat(chunks);
  if (buf.length < 512 || size === undefined) return '';
  return buf.subarray(512, 512 + size).toString('utf8');
}

/**
 * The uid/gid the app runs as, so its secret files (0400) are readable by it. The engine's own lookup
 * (copyUIDGID) reads the *host's* passwd, so the container's /etc/passwd and /etc/group are read here.
 */
export async function resolveUser(
  container: Dockerode.Container,
  user: string,
  timeoutMs: number,
): Promise<{ uid: number; gid: number }> {
  if (!user) return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':');
  const tooLarge: string[] = [];
  const read = async (path: string) => {
    try {
      const text = await engineCall(`read ${path}`, timeoutMs, async (abortSignal) =>
        readTarFile(await container.getArchive({ path, abortSignal }), MAX_PASSWD_BYTES),
      );
      if (text === null) tooLarge.push(path);
      return text ?? '';
    } catch {
      return '';
    }
  };
  let uid: number | undefined = /^\d+$/.test(u) ? Number(u) : undefined;
  let gid: number | undefined = g !== undefined && /^\d+$/.test(g) ? Number(g) : undefined;
  if (uid === undefined || gid === undefined) {
    const passwd = (await read('/etc/passwd')).split('\n').map((l) => l.split(':'));
    const entry = passwd.find((f) => (uid === undefined ? f[0] === u : Number(f[2]) === uid));
    if (uid === undefined) uid = entry?.[2] !== undefined ? Number(entry[2]) : undefined;
    if (g === undefined) gid = entry?.[3] !== undefined ? Number(entry[3]) : 0;
  }
  if (gid === undefined && g !== undefined) {
    const group = (await read('/etc/group')).split('\n').map((l) => l.split(':'));
    const entry = group.find((f) => f[0] === g);
    gid = entry?.[2] !== undefined ? Number(entry[2]) : undefined;
  }
  if (uid === undefined || Number.isNaN(uid)) {
    const why = tooLarge.includes('/etc/passwd') ? ` (the image's /etc/passwd is larger than ${MAX_PASSWD_BYTES} bytes and is not read; use a numeric USER uid:gid)` : '';
    throw new DockerError('engine', `cannot resolve the container user "${u}" for its secret files${why}`);
  }
  return { uid, gid: gid === undefined || Number.isNaN(gid) ? 0 : gid };
}

/** Copies the files into the running container's secrets tmpfs, mode 0400, owned by the container's user. */
export async function deliverSecretFiles(
  container: Dockerode.Container,
  files: Record<string, string>,
  user: string,
  timeoutMs: number,
): Promise<void> {
  const owner = await resolveUser(container, user, timeoutMs);
  const tar = tarFiles(
    Object.entries(files).map(([name, content]) => ({ name, content: Buffer.from(content, 'utf8'), mode: 0o400, ...owner })),
  );
  try {
    await engineCall('copy secret files', timeoutMs, (abortSignal) =>
      container.putArchive(tar, { path: SECRETS_DIR, abortSignal }),
    );
  } catch (err) {
    throw toDockerError(err, 'copy secret files');
  } finally {
    tar.fill(0);
  }
}
