import { engineEventLabels, engineSince } from './engineEvents.js';
import type { EngineEvent, EngineEventsOptions, Labels } from './types.js';

interface Subscriber {
  labels: Labels;
  queue: EngineEvent[];
  failure?: Error;
  wake?: () => void;
}

function matches(labels: Labels, want: Labels): boolean {
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

const copy = (ev: EngineEvent): EngineEvent => ({ ...ev, labels: { ...ev.labels } });

/**
 * The fake engine's event log: a bounded history that `since` replays from, and the live subscriptions. A
 * subscriber's queue is not bounded: the fake's consumers are tests, and dropping events would hide their bugs.
 */
export class FakeEngineEvents {
  private history: EngineEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();

  constructor(private readonly historyLimit = 1000) {}

  emit(ev: EngineEvent): void {
    this.history.push(ev);
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit);
    for (const s of this.subscribers) {
      if (!matches(ev.labels, s.labels)) continue;
      s.queue.push(copy(ev));
      s.wake?.();
    }
  }

  /**
   * The connection to the engine is gone: each live subscription throws after the events already on their way.
   * The history goes too, as dockerd keeps it in memory only.
   */
  breakAll(failure: () => Error): void {
    this.history = [];
    for (const s of this.subscribers) {
      s.failure ??= failure();
      s.wake?.();
    }
    // Nothing that happens afterwards reaches them, only the failure.
    this.subscribers.clear();
  }

  /** `unavailable()` returns the error to throw at once when the engine is down (undefined when it is up). */
  async *follow(opts: EngineEventsOptions, stop: AbortSignal, unavailable: () => Error | undefined): AsyncGenerator<EngineEvent> {
    const { signal } = opts;
    if (signal?.aborted || stop.aborted) return;
    const down = unavailable();
    if (down) throw down;
    const sub: Subscriber = { labels: engineEventLabels(opts.labels), queue: [] };
    if (opts.since !== undefined) {
      engineSince(opts.since); // the same validation as the real driver
      const since = opts.since;
      sub.queue.push(...this.history.filter((e) => e.time >= since && matches(e.labels, sub.labels)).map(copy));
    }
    this.subscribers.add(sub);
    const wake = () => sub.wake?.();
    signal?.addEventListener('abort', wake, { once: true });
    stop.addEventListener('abort', wake, { once: true });
    try {
      for (;;) {
        if (signal?.aborted || stop.aborted) return;
        const ev = sub.queue.shift();
        if (ev) {
          yield ev;
          continue;
        }
        if (sub.failure) throw sub.failure;
        await new Promise<void>((resolve) => (sub.wake = resolve));
        sub.wake = undefined;
      }
    } finally {
      this.subscribers.delete(sub);
      signal?.removeEventListener('abort', wake);
      stop.removeEventListener('abort', wake);
    }
  }
}
