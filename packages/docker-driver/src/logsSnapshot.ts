import type Dockerode from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { MAX_LOGS_SNAPSHOT_BYTES } from './lines.js';
import { LogDecoder } from './LogDecoder.js';
import type { LogLine } from './types.js';

/**
 * The last `tail` lines of a container's logs, read as a stream (dockerode would buffer the whole answer): each line
 * cut to MAX_LOG_LINE_BYTES by the decoder, and only the newest lines whose texts fit in `maxBytes` kept, so memory
 * stays bounded whatever `tail` and the container's output are.
 */
export async function logsSnapshot(
  docker: Dockerode,
  id: string,
  tail: number,
  abortSignal: AbortSignal,
  maxBytes = MAX_LOGS_SNAPSHOT_BYTES,
  /** A Swarm task's logs come from the manager whichever node runs it. */
  kind: 'containers' | 'tasks' = 'containers',
): Promise<LogLine[]> {
  const stream = await new Promise<IncomingMessage>((resolve, reject) => {
    docker.modem.dial(
      {
        path: `/${kind}/${encodeURIComponent(id)}/logs?`,
        method: 'GET',
        isStream: true,
        abortSignal,
        statusCodes: { 200: true, 404: kind === 'tasks' ? 'no such task' : 'no such container', 500: 'server error', 503: 'node is not part of a swarm' },
        options: { stdout: true, stderr: true, timestamps: true, tail, follow: false },
      } as Parameters<Dockerode['modem']['dial']>[0],
      (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as IncomingMessage)),
    );
  });
  const onAbort = () => stream.destroy();
  abortSignal.addEventListener('abort', onAbort, { once: true });
  const decoder = new LogDecoder(id);
  // A queue with a moving head: the oldest lines leave from the front as newer ones come.
  let kept: { line: LogLine; size: number }[] = [];
  let head = 0;
  let size = 0;
  const keep = (line: LogLine) => {
    const s = Buffer.byteLength(line.text);
    kept.push({ line, size: s });
    size += s;
    while (size > maxBytes && head < kept.length) size -= (kept[head++] as { size: number }).size;
    if (head > 1024 && head * 2 > kept.length) {
      kept = kept.slice(head);
      head = 0;
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) for (const l of decoder.push(chunk)) keep(l);
    for (const l of decoder.flush()) keep(l);
  } finally {
    abortSignal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
  return kept.slice(head).map((k) => ({ ...k.line, containerId: id }));
}
