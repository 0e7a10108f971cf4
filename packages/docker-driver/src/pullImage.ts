import type Dockerode from 'dockerode';
import type { Readable } from 'node:stream';
import { DockerError, engineMessage } from './DockerError.js';
import { abortReason, engineCall } from './engineCall.js';
import { LineSplitter } from './LineSplitter.js';
import type { RegistryAuth } from './types.js';
import { splitImageRef, validateImageRef } from './validateImageRef.js';

export const DEFAULT_PULL_TIMEOUT_MS = 10 * 60_000;
/** One progress message of the engine is a small JSON object; a longer line is a broken stream. */
const MAX_PULL_MESSAGE_BYTES = 1024 * 1024;

export interface PullOptions {
  auth?: RegistryAuth;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Pulls `ref` (a name, see validateImageRef) through the engine, forwarding each distinct progress line once. */
export async function pullImage(docker: Dockerode, ref: string, o: PullOptions, callTimeoutMs: number): Promise<void> {
  validateImageRef(ref);
  const { fromImage, tag } = splitImageRef(ref);
  const auth = o.auth ? { username: o.auth.username, password: o.auth.password, serveraddress: o.auth.serveraddress ?? '' } : undefined;
  const what = `pull ${ref}`;
  let stream: Readable;
  try {
    stream = (await engineCall(what, callTimeoutMs, (abortSignal) => docker.createImage(auth, { fromImage, tag, abortSignal }), o.signal)) as unknown as Readable;
  } catch (err) {
    if (err instanceof Error && (err.name === 'AbortError' || err instanceof DockerError)) throw err;
    throw new DockerError('pull_failed', `pull of ${ref} failed: ${engineMessage(err)}`, { cause: err });
  }
  const timeoutMs = o.timeoutMs ?? DEFAULT_PULL_TIMEOUT_MS;
  let failure: Error | undefined;
  const timer = setTimeout(() => {
    failure ??= new DockerError('timeout', `pull of ${ref} did not finish within ${timeoutMs} ms`);
    stream.destroy();
  }, timeoutMs);
  const onAbort = () => {
    failure ??= abortReason(o.signal as AbortSignal);
    stream.destroy();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let error: string | undefined;
  const seen = new Set<string>();
  const onMessage = (m: { status?: string; id?: string; error?: string; errorDetail?: { message?: string } }) => {
    if (m.error || m.errorDetail) error = m.errorDetail?.message ?? m.error;
    else if (m.status) {
      const line = m.id ? `${m.id}: ${m.status}` : m.status;
      // Progress messages repeat many times per layer; forward each distinct one once.
      if (!seen.has(line)) {
        seen.add(line);
        o.onLine?.(line);
      }
    }
  };
  const lines = new LineSplitter(MAX_PULL_MESSAGE_BYTES, 'the Docker engine (pull progress)');
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (const l of lines.push(chunk)) if (l.trim()) onMessage(JSON.parse(l) as Parameters<typeof onMessage>[0]);
    }
    for (const l of lines.flush()) if (l.trim()) onMessage(JSON.parse(l) as Parameters<typeof onMessage>[0]);
  } catch (err) {
    failure ??= new DockerError('pull_failed', `pull of ${ref} failed: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure;
  if (error) throw new DockerError('pull_failed', `pull of ${ref} failed: ${error}`);
}
