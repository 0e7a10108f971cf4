import type Dockerode from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { DockerError, toDockerError } from './DockerError.js';
import { engineCall } from './engineCall.js';
import { engineEventFilters, engineSince, parseEngineEventLine } from './engineEvents.js';
import { LineSplitter } from './LineSplitter.js';
import type { EngineEvent, EngineEventsOptions } from './types.js';

/** Generous: an event line carries all the container's labels, the spec label included. */
const MAX_LINE = 4 * 1024 * 1024;

/**
 * Follows GET /events. Reading is pulled by the consumer (the socket is not read while it holds an event), so a
 * slow consumer makes the engine wait instead of this process buffering. Any end the caller did not ask for
 * (abort, or `stop` = the driver closing) is a broken connection and throws, so the caller reconnects.
 */
export async function* followEngineEvents(
  docker: Dockerode,
  opts: EngineEventsOptions,
  callTimeoutMs: number,
  stop?: AbortSignal,
): AsyncGenerator<EngineEvent> {
  // One signal for both reasons to end; listeners instead of AbortSignal.any, whose dependants pile up on the
  // driver-long `stop` signal on Node 20.
  const ended = new AbortController();
  const end = () => ended.abort();
  const sources = [opts.signal, stop].filter((s): s is AbortSignal => s !== undefined);
  for (const s of sources) {
    if (s.aborted) return;
    s.addEventListener('abort', end, { once: true });
  }
  let stream: IncomingMessage | undefined;
  const onEnd = () => stream?.destroy();
  ended.signal.addEventListener('abort', onEnd, { once: true });
  try {
    const query: Dockerode.GetEventsOptions & { abortSignal?: AbortSignal } = {
      filters: engineEventFilters(opts.labels),
    };
    // dockerode's type says number; the engine takes `seconds.fraction`, which keeps the milliseconds.
    if (opts.since !== undefined) (query as Record<string, unknown>).since = engineSince(opts.since);
    try {
      // Only the request is under the deadline: the engine sends the headers at once, then the stream lives on.
      stream = (await engineCall(
        'follow engine events',
        callTimeoutMs,
        (abortSignal) => docker.getEvents({ ...query, abortSignal } as Dockerode.GetEventsOptions),
        ended.signal,
      )) as unknown as IncomingMessage;
    } catch (err) {
      if (ended.signal.aborted) return;
      throw toDockerError(err, 'follow engine events');
    }
    if (ended.signal.aborted) return;
    const lines = new LineSplitter(MAX_LINE);
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (const line of lines.push(chunk)) {
          const ev = parseEngineEventLine(line);
          if (ev) yield ev;
        }
      }
    } catch (err) {
      if (ended.signal.aborted) return;
      if (err instanceof DockerError) throw err;
      throw new DockerError('engine', `the Docker engine's event stream broke: ${(err as Error).message}`, { cause: err });
    }
    if (ended.signal.aborted) return;
    throw new DockerError('engine', 'the Docker engine ended its event stream (dockerd stopping or restarting?)');
  } finally {
    // Also reached when the consumer breaks out of its loop: the request must not outlive the iteration.
    stream?.destroy();
    ended.signal.removeEventListener('abort', onEnd);
    for (const s of sources) s.removeEventListener('abort', end);
  }
}
