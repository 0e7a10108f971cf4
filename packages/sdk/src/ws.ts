// WebSockets without Node-only imports: the global `WebSocket` (browsers, Node 22+) when there is one, else the
// `ws` package, loaded by a dynamic import that bundlers leave alone. One connection is read as a queue of events.
import { CynchroError } from './cynchro-error.js';

/** What the SDK needs of a WebSocket: the browser API, which `ws` implements too. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

let fromWs: Promise<WebSocketConstructor> | undefined;

/** The WebSocket class to use: the one given, the global one, or `ws` (Node 20). */
export function resolveWebSocket(given?: WebSocketConstructor): Promise<WebSocketConstructor> {
  if (given) return Promise.resolve(given);
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (g) return Promise.resolve(g);
  fromWs ??= (async () => {
    // A variable specifier: TypeScript does not type it and bundlers do not pull Node code into browser builds.
    const specifier = 'ws';
    try {
      const mod = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as {
        WebSocket?: WebSocketConstructor;
        default?: WebSocketConstructor;
      };
      const ctor = mod.WebSocket ?? mod.default;
      if (!ctor) throw new Error('the ws module has no WebSocket export');
      return ctor;
    } catch (e) {
      fromWs = undefined;
      throw new CynchroError('network', `No WebSocket available: this runtime has no global WebSocket and the "ws" package could not be loaded (${e instanceof Error ? e.message : String(e)})`, 0);
    }
  })();
  return fromWs;
}

export type SocketEvent =
  | { type: 'open' }
  | { type: 'message'; data: unknown }
  | { type: 'close'; code: number; reason: string; opened: boolean }
  | { type: 'aborted' };

const decoder = new TextDecoder();

function textOf(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return decoder.decode(data);
  if (ArrayBuffer.isView(data)) return decoder.decode(data);
  if (Array.isArray(data)) return data.map(textOf).join('');
  return String(data);
}

/** One connection, read event by event: JSON messages, then exactly one `close`. */
export class SocketReader {
  readonly #queue: SocketEvent[] = [];
  #waiter: ((e: SocketEvent) => void) | null = null;
  #opened = false;
  #closed = false;
  readonly #socket: WebSocketLike;

  constructor(Ctor: WebSocketConstructor, url: string) {
    this.#socket = new Ctor(url);
    this.#socket.onopen = () => {
      this.#opened = true;
      this.#push({ type: 'open' });
    };
    this.#socket.onmessage = (ev) => {
      let data: unknown;
      try {
        data = JSON.parse(textOf(ev.data));
      } catch {
        return; // not ours
      }
      this.#push({ type: 'message', data });
    };
    this.#socket.onerror = () => {
      /* a close event follows */
    };
    this.#socket.onclose = (ev) => {
      this.#closed = true;
      this.#push({ type: 'close', code: ev.code, reason: ev.reason, opened: this.#opened });
    };
  }

  #push(e: SocketEvent): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(e);
    } else this.#queue.push(e);
  }

  /** The next event; `aborted` as soon as the signal fires (the socket is closed then). */
  next(signal?: AbortSignal): Promise<SocketEvent> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    if (signal?.aborted) {
      this.close();
      return Promise.resolve({ type: 'aborted' });
    }
    return new Promise((resolve) => {
      const onAbort = () => {
        this.#waiter = null;
        this.close();
        resolve({ type: 'aborted' });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = (e) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(e);
      };
    });
  }

  close(code = 1000, reason = 'client closed'): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      // CONNECTING (0) sockets cannot take a code in every implementation; closing without one is always allowed.
      if (this.#socket.readyState === 0) this.#socket.close();
      else this.#socket.close(code, reason);
    } catch {
      /* already closing */
    }
  }
}

/** http(s)://host/base + path → ws(s)://host/base/path?query */
export function wsUrl(base: string, path: string, query: Record<string, string | number | undefined>): string {
  const u = new URL(base.replace(/\/+$/, '') + path);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
  return u.toString();
}
