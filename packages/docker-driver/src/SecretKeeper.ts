import type Dockerode from 'dockerode';
import type { IncomingMessage } from 'node:http';
import { engineSince } from './engineEvents.js';
import { deliverSecretFiles } from './secretFiles.js';

interface Held {
  name: string;
  user: string;
  files: Record<string, string>;
}

/**
 * Holds secret file contents in memory for the containers this driver started. The secrets tmpfs is empty again
 * after every start, including the ones the engine does on its own (restart policy after a crash, daemon
 * restart), so this watches the engine's `start` events and copies the files in again.
 */
export class SecretKeeper {
  private readonly held = new Map<string, Held>();
  private events: IncomingMessage | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  /**
   * Milliseconds: how far the starts are known to be handled. Every request asks for the events since then, so
   * the starts of a dockerd restart, which happen while there is no stream, are replayed on the reconnect.
   */
  private seenUntil: number | undefined;

  constructor(
    private readonly docker: Dockerode,
    private readonly timeoutMs: number,
  ) {}

  set(id: string, name: string, user: string, files: Record<string, string>): void {
    this.held.set(id, { name, user, files });
    this.watch();
  }

  get(idOrName: string): Record<string, string> | undefined {
    return this.find(idOrName)?.[1].files;
  }

  delete(idOrName: string): void {
    const hit = this.find(idOrName);
    if (hit) this.held.delete(hit[0]);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.events?.destroy();
    this.held.clear();
  }

  private find(idOrName: string): [string, Held] | undefined {
    const key = idOrName.replace(/^\//, '');
    for (const e of this.held) if (e[0] === key || e[1].name === key || (key.length >= 12 && e[0].startsWith(key))) return e;
    return undefined;
  }

  private watch(): void {
    if (this.events || this.closed) return;
    const reconnect = () => {
      this.events = undefined;
      if (this.closed || this.held.size === 0) return;
      this.retry = setTimeout(() => this.watch(), 1000);
      this.retry.unref();
    };
    const connectedAt = Date.now();
    // `since` also closes the gap between the request and the engine's subscription: the engine hands over its
    // backlog and subscribes in one step. Starts seen twice only copy the same files again.
    const query = { filters: { type: ['container'], event: ['start'] }, since: engineSince(this.seenUntil ?? connectedAt) };
    this.docker
      .getEvents(query as unknown as Dockerode.GetEventsOptions)
      .then((stream) => {
        const res = stream as IncomingMessage;
        if (this.closed) return res.destroy();
        this.events = res;
        this.seenUntil = Math.max(this.seenUntil ?? 0, connectedAt);
        // The watcher must never keep the process alive on its own.
        res.socket?.unref();
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          const lines = buf.split('\n');
          buf = lines.pop() ?? '';
          for (const l of lines) this.onEvent(l);
        });
        res.on('end', reconnect);
        res.on('error', reconnect);
      })
      .catch(reconnect);
  }

  private onEvent(line: string): void {
    let ev: { id?: string; status?: string; Action?: string; timeNano?: number };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      return;
    }
    if (typeof ev.timeNano === 'number') this.seenUntil = Math.max(this.seenUntil ?? 0, Math.floor(ev.timeNano / 1e6));
    const held = ev.id ? this.held.get(ev.id) : undefined;
    if (!held || !ev.id) return;
    // Best effort: a failure here leaves the app without its files, which its own health check will show.
    deliverSecretFiles(this.docker.getContainer(ev.id), held.files, held.user, this.timeoutMs).catch(() => undefined);
  }
}
