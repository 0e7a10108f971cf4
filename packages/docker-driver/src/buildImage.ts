import type Dockerode from 'dockerode';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { checkBuildImages, checkDockerfile, MAX_DOCKERFILE_BYTES, type PolicyImage } from './dockerfilePolicy.js';
import { DockerError, engineMessage, engineStatus } from './DockerError.js';
import { abortReason, DEFAULT_CALL_TIMEOUT_MS, engineCall } from './engineCall.js';
import { LineSplitter } from './LineSplitter.js';
import { MAX_LOG_LINE_BYTES, TextLines } from './lines.js';
import { packContext } from './packContext.js';
import { pullImage } from './pullImage.js';
import { resolveInside } from './resolveInside.js';
import type { Labels } from './types.js';

/** Cores each RUN step of a build may use unless the build asks otherwise (cpu quota over a 100 ms period). */
export const BUILD_DEFAULT_CPU = 1;
/** Memory of each RUN step of a build, in megabytes, unless the build asks otherwise; no swap on top. */
export const BUILD_DEFAULT_MEMORY_MB = 2048;
const CPU_PERIOD_US = 100_000;
/** One JSON message of the build stream is a chunk of output; a longer line is a broken stream. */
const MAX_BUILD_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The engine's build options for the RUN steps' limits, after checking them. */
export function buildLimits(cpu = BUILD_DEFAULT_CPU, memoryMb = BUILD_DEFAULT_MEMORY_MB): { cpuperiod: number; cpuquota: number; memory: number; memswap: number } {
  if (typeof cpu !== 'number' || !Number.isFinite(cpu) || cpu < 0.01 || cpu > 1024) throw new DockerError('invalid_ref', `build cpu ${cpu} must be between 0.01 and 1024 cores`);
  // The engine refuses less than 6 MB.
  if (typeof memoryMb !== 'number' || !Number.isFinite(memoryMb) || memoryMb < 6 || memoryMb > 1024 * 1024)
    throw new DockerError('invalid_ref', `build memoryMb ${memoryMb} must be between 6 and 1048576`);
  const memory = Math.round(memoryMb * 1024 * 1024);
  return { cpuperiod: CPU_PERIOD_US, cpuquota: Math.round(cpu * CPU_PERIOD_US), memory, memswap: memory };
}

export interface BuildImageOptions {
  tag: string;
  labels: Labels;
  /** Path of the Dockerfile inside the context tar. */
  dockerfile: string;
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs: number;
  /** Cores of each RUN step; defaults to BUILD_DEFAULT_CPU. */
  cpu?: number;
  /** Megabytes of each RUN step; defaults to BUILD_DEFAULT_MEMORY_MB. */
  memoryMb?: number;
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
  const limits = buildLimits(o.cpu, o.memoryMb);
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
        // The classic builder, always: BuildKit would honour `# syntax=` (pulling and running any frontend image)
        // and read the Dockerfile with rules the policy check does not know.
        version: '1',
        ...limits,
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
    // Both splitters are linear in what they receive: a RUN step printing without newlines cannot make the
    // driver re-scan a growing buffer, and its lines are cut at MAX_LOG_LINE_BYTES.
    const json = new LineSplitter(MAX_BUILD_MESSAGE_BYTES, 'the Docker engine (build output)');
    const text = new TextLines({ maxBytes: MAX_LOG_LINE_BYTES });
    const onMessage = (m: BuildMessage) => {
      if (m.error || m.errorDetail) {
        error = (m.errorDetail?.message ?? m.error ?? 'unknown error').trim();
        return;
      }
      if (m.aux?.ID) imageId = m.aux.ID;
      const chunk = m.stream ?? (m.status ? `${m.status}\n` : '');
      for (const l of text.push(chunk)) if (l.trim()) emit(l.trimEnd());
    };
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        for (const p of json.push(chunk)) if (p.trim()) onMessage(JSON.parse(p) as BuildMessage);
      }
      for (const p of json.flush()) if (p.trim()) onMessage(JSON.parse(p) as BuildMessage);
    } catch (err) {
      if (why) throw why;
      throw new DockerError('build_failed', `build failed: the engine connection broke (${(err as Error).message})`, { cause: err });
    }
    for (const l of text.flush()) if (l.trim()) emit(l.trimEnd());
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

/** The Dockerfile's bytes, refused (build_failed) beyond MAX_DOCKERFILE_BYTES without reading further. */
export async function readDockerfile(path: string, shown: string): Promise<Buffer> {
  const f = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_DOCKERFILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await f.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > MAX_DOCKERFILE_BYTES) throw new DockerError('build_failed', `${shown} is larger than ${MAX_DOCKERFILE_BYTES} bytes`);
    }
    return buf.subarray(0, n);
  } finally {
    await f.close();
  }
}

/**
 * The policy of dockerfilePolicy.ts on a Dockerfile about to be built: its text first, then the images it reads,
 * looked up on the engine (and pulled first when missing, as the builder would), within the build's deadline.
 */
export async function checkBuildPolicy(
  docker: Dockerode,
  content: Buffer,
  shown: string,
  o: { labels: Labels; onLine?: (line: string) => void; signal?: AbortSignal; deadline: number; callTimeoutMs?: number },
): Promise<void> {
  const remaining = () => {
    const ms = o.deadline - Date.now();
    if (ms <= 0) throw new DockerError('timeout', `build of ${shown} did not finish within its time limit`);
    return ms;
  };
  const callMs = () => Math.min(o.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, remaining());
  try {
    const images = checkDockerfile(content, shown);
    await checkBuildImages(images, o.labels, {
      lookup: async (ref): Promise<PolicyImage | null> => {
        try {
          const info = await engineCall(`inspect image ${ref}`, callMs(), (abortSignal) => docker.getImage(ref).inspect({ abortSignal } as object), o.signal);
          return { id: info.Id, labels: info.Config?.Labels ?? {}, onBuild: (info.Config?.OnBuild ?? []).map(String) };
        } catch (err) {
          if (engineStatus(err) === 404) return null;
          if (err instanceof DockerError || (err instanceof Error && err.name === 'AbortError')) throw err;
          throw new DockerError('build_failed', `build failed: inspect image ${ref}: ${engineMessage(err)}`, { cause: err });
        }
      },
      pull: async (ref) => {
        o.onLine?.(`pulling ${ref} to check it before the build`);
        await pullImage(docker, ref, { ...(o.onLine ? { onLine: o.onLine } : {}), ...(o.signal ? { signal: o.signal } : {}), timeoutMs: remaining() }, callMs()).catch(
          (err: unknown) => {
            if (err instanceof DockerError && err.code === 'pull_failed') throw new DockerError('build_failed', `build failed: ${err.message}`, { cause: err });
            throw err;
          },
        );
      },
    });
  } catch (err) {
    if (err instanceof DockerError && err.code === 'build_failed') o.onLine?.(`ERROR: ${err.message}`);
    throw err;
  }
}

/**
 * Builds the directory `dir` as the context, with `dockerfileRel` inside it: the Dockerfile must resolve inside the
 * context (symlinks included) and be a file, and pass the policy check (dockerfilePolicy.ts) before anything is
 * sent to the engine. Both builders (a checkout, a local directory) come through here; `timeoutMs` covers the
 * check, the packing and the build.
 */
export async function buildContextDir(
  docker: Dockerode,
  dir: string,
  dockerfileRel: string,
  o: Omit<BuildImageOptions, 'dockerfile'> & { callTimeoutMs?: number },
): Promise<string> {
  const deadline = Date.now() + o.timeoutMs;
  const dockerfile = await resolveInside(dir, dockerfileRel, 'dockerfile');
  if (!(await stat(dockerfile.path).catch(() => null))?.isFile()) throw new DockerError('invalid_path', `dockerfile "${dockerfileRel}" is not a file`);
  buildLimits(o.cpu, o.memoryMb);
  const content = await readDockerfile(dockerfile.path, dockerfileRel);
  await checkBuildPolicy(docker, content, dockerfileRel, {
    labels: o.labels,
    deadline,
    ...(o.onLine ? { onLine: o.onLine } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.callTimeoutMs !== undefined ? { callTimeoutMs: o.callTimeoutMs } : {}),
  });
  const tar = await packContext(dir, dockerfile.rel);
  const { callTimeoutMs: _unused, ...rest } = o;
  void _unused;
  return buildImage(docker, tar, { ...rest, dockerfile: dockerfile.rel, timeoutMs: Math.max(deadline - Date.now(), 1) });
}
