import type Dockerode from 'dockerode';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { engineStatus, toDockerError } from './DockerError.js';
import { engineCall } from './engineCall.js';
import { LogDecoder, timestampKey } from './LogDecoder.js';
import type { FollowLogsOptions, LogLine } from './types.js';

const POLL_MS = 250;

/**
 * Follows a container's logs. The engine ends a follow stream when the container stops; without
 * `followRestarts` that ends the iteration, with it the container is watched until it runs again (or is
 * removed) and the stream is re-attached from the last timestamp seen, dropping lines already delivered.
 * Aborting the signal or breaking out of the loop ends it quietly.
 */
export async function* followContainerLogs(
  docker: Dockerode,
  id: string,
  opts: FollowLogsOptions,
  callTimeoutMs: number,
): AsyncGenerator<LogLine> {
  const { signal } = opts;
  const container = docker.getContainer(id);
  let lastKey: string | undefined;
  let lastTs: string | undefined;
  let first = true;
  const attachedAt = Math.floor(Date.now() / 1000);
  while (!signal?.aborted) {
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await engineCall('inspect container', callTimeoutMs, (abortSignal) => container.inspect({ abortSignal }), signal);
    } catch (err) {
      if (signal?.aborted || engineStatus(err) === 404) return;
      throw toDockerError(err, 'follow logs');
    }
    if (!first && (!info.State.Running || info.State.Restarting)) {
      // Stopped: keep waiting only if asked to survive restarts.
      await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
      continue;
    }
    const query: Record<string, unknown> = { follow: true, stdout: true, stderr: true, timestamps: true };
    if (first) {
      if (opts.since !== undefined) query.since = opts.since;
      if (opts.tail !== undefined) query.tail = opts.tail;
    } else {
      // Whole seconds only; the overlap is dropped by timestamp below.
      query.since = lastTs ? Math.floor(Date.parse(lastTs) / 1000) : attachedAt;
    }
    first = false;
    let stream: Readable;
    try {
      stream = (await engineCall('follow logs', callTimeoutMs, (abortSignal) =>
        container.logs({ ...query, abortSignal } as Dockerode.ContainerLogsOptions & { follow: true }),
      signal)) as unknown as Readable;
    } catch (err) {
      if (signal?.aborted || engineStatus(err) === 404) return;
      throw toDockerError(err, 'follow logs');
    }
    const onAbort = () => stream.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    const decoder = new LogDecoder(info.Id);
    const fresh = (l: LogLine) => {
      const k = timestampKey(l.timestamp);
      if (lastKey !== undefined && k <= lastKey) return false;
      lastKey = k;
      lastTs = l.timestamp;
      return true;
    };
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (const l of decoder.push(chunk)) if (fresh(l)) yield l;
      }
      for (const l of decoder.flush()) if (fresh(l)) yield l;
    } catch {
      // A destroyed or broken stream: decided below whether to re-attach.
    } finally {
      signal?.removeEventListener('abort', onAbort);
      stream.destroy();
    }
    if (signal?.aborted || !opts.followRestarts) return;
    await sleep(50, undefined, { signal }).catch(() => undefined);
  }
}
