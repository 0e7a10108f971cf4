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

/** Reads one regular file from a tar stream (the answer of getArchive). */
async function firstTarFile(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  const buf = Buffer.concat(chunks);
  if (buf.length < 512) return '';
  const size = Number.parseInt(buf.subarray(124, 136).toString('ascii').replace(/\0.*$/, '').trim() || '0', 8);
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
  const read = async (path: string) => {
    try {
      return await engineCall(`read ${path}`, timeoutMs, async (abortSignal) =>
        firstTarFile(await container.getArchive({ path, abortSignal })),
      );
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
  if (uid === undefined || Number.isNaN(uid)) throw new DockerError('engine', `cannot resolve the container user "${u}" for its secret files`);
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
