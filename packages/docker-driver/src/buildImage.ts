import type Dockerode from 'dockerode';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DockerError, engineMessage } from './DockerError.js';
import { abortReason, DEFAULT_CALL_TIMEOUT_MS, engineCall } from './engineCall.js';
import { packContext } from './packContext.js';
import { resolveInside } from './resolveInside.js';
import type { Labels } from './types.js';

export interface BuildImageOptions {
  tag: string;
  labels: Labels;
  /** Path of the Dockerfile inside the context tar. */
  dockerfile: string;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs: number;
}

interface BuildMessage {
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/** Sends a context tar to the engine's build endpoint and streams the output out line by line. */
export async function buildImage(docker: Dockerode, context: Readable, o: BuildImageOptions): Promise<string> {
  if (o.signal?.aborted) throw abortReason(o.signal);
  const ac = new AbortController();
  let why: Error | undefined;
  const stop = (err: Error) => {
    why ??= err;
    ac.abort(err);
  };
  const timer = setTimeout(() => stop(new DockerError('timeout', `build of ${o.tag} did not finish within ${o.timeoutMs} ms`)), o.timeoutMs);
  const onAbort = () => stop(abortReason(o.signal as AbortSignal));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let imageId: string | undefined;
  let error: string | undefined;
  const tail: string[] = [];
  try {
    let res: NodeJS.ReadableStream;
    try {
      res = await docker.buildImage(context as unknown as NodeJS.ReadableStream, {
        t: o.tag,
        labels: o.labels,
        dockerfile: o.dockerfile,
        rm: true,
        forcerm: true,
        abortSignal: ac.signal,
      } as Dockerode.ImageBuildOptions);
    } catch (err) {
      if (why) throw why;
      // The engine refuses some builds before starting (e.g. a Dockerfile it cannot find in the context).
      throw new DockerError('build_failed', `build failed: ${engineMessage(err)}`, { cause: err });
    }
    // Closing the connection is what cancels a build on the engine side.
    ac.signal.addEventListener('abort', () => (res as unknown as Readable).destroy(), { once: true });
    const emit = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      o.onLine?.(line);
    };
    let json = '';
    let text = '';
    const onMessage = (m: BuildMessage) => {
      if (m.error || m.errorDetail) {
        error = (m.errorDetail?.message ?? m.error ?? 'unknown error').trim();
        return;
      }
      if (m.aux?.ID) imageId = m.aux.ID;
      const chunk = m.stream ?? (m.status ? `${m.status}\n` : '');
      text += chunk;
      const lines = text.split(/\r?\n/);
      text = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) emit(l.trimEnd());
    };
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        json += chunk.toString('utf8');
        const parts = json.split('\n');
        json = parts.pop() ?? '';
        for (const p of parts) if (p.trim()) onMessage(JSON.parse(p) as BuildMessage);
      }
      if (json.trim()) onMessage(JSON.parse(json) as BuildMessage);
    } catch (err) {
      if (why) throw why;
      throw new DockerError('build_failed', `build failed: the engine connection broke (${(err as Error).message})`, { cause: err });
    }
    if (text.trim()) emit(text.trimEnd());
    if (why) throw why;
    if (error) {
      o.onLine?.(`ERROR: ${error}`);
      const err = new DockerError('build_failed', `build failed: ${error}`);
      (err as DockerError & { output?: string[] }).output = tail;
      throw err;
    }
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (!imageId) {
    // Older engines report the id only as "Successfully built <short id>"; ask for the tag instead.
    const info = await engineCall(`inspect ${o.tag}`, DEFAULT_CALL_TIMEOUT_MS, (abortSignal) =>
      docker.getImage(o.tag).inspect({ abortSignal } as object),
    ).catch(() => null);
    if (!info) throw new DockerError('build_failed', `build of ${o.tag} finished without producing an image`);
    imageId = info.Id;
  }
  return imageId;
}

/**
 * Builds the directory `dir` as the context, with `dockerfileRel` inside it: the Dockerfile must resolve inside the
 * context (symlinks included) and be a file. Both builders (a checkout, a local directory) come through here.
 */
export async function buildContextDir(docker: Dockerode, dir: string, dockerfileRel: string, o: Omit<BuildImageOptions, 'dockerfile'>): Promise<string> {
  const dockerfile = await resolveInside(dir, dockerfileRel, 'dockerfile');
  if (!(await stat(dockerfile.path).catch(() => null))?.isFile()) throw new DockerError('invalid_path', `dockerfile "${dockerfileRel}" is not a file`);
  const tar = await packContext(dir, dockerfile.rel);
  return buildImage(docker, tar, { ...o, dockerfile: dockerfile.rel });
}
