// Build slots shared fairly between orgs: waiting orgs are served in turn (not first come, first served), and no
// org holds every slot while another waits. One busy tenant cannot starve the others' builds.
import { Canceled } from '../../lib/step-timeout.js';

interface Waiter {
  grant: () => void;
  signal?: AbortSignal | undefined;
  onAbort?: () => void;
}

export class FairSemaphore {
  private readonly held = new Map<string, number>();
  private readonly waiting = new Map<string, Waiter[]>();
  private total = 0;
  /** The key served last: the next grant goes to the next waiting key after it. */
  private last: string | undefined;
  readonly perKey: number;

  constructor(
    readonly limit: number,
    perKey?: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('a semaphore needs a limit of at least 1');
    this.perKey = perKey ?? Math.max(1, limit - 1);
  }

  get inUse(): number {
    return this.total;
  }

  /** True when acquire(key) would have to wait. */
  busy(key: string): boolean {
    return this.total >= this.limit || (this.held.get(key) ?? 0) >= this.perKey;
  }

  /** Resolves with a release function (idempotent) once `key` may take a slot; rejects with Canceled on abort. */
  acquire(key: string, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(new Canceled());
    return new Promise((resolve, reject) => {
      const w: Waiter = { grant: () => resolve(this.take(key)), signal };
      if (signal) {
        w.onAbort = () => {
          const q = this.waiting.get(key);
          const i = q?.indexOf(w) ?? -1;
          if (q && i >= 0) q.splice(i, 1);
          if (q && !q.length) this.waiting.delete(key);
          reject(new Canceled());
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      const q = this.waiting.get(key) ?? [];
      q.push(w);
      this.waiting.set(key, q);
      this.dispatch();
    });
  }

  private take(key: string): () => void {
    this.total++;
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    this.last = key;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.total--;
      const n = (this.held.get(key) ?? 1) - 1;
      if (n) this.held.set(key, n);
      else this.held.delete(key);
      this.dispatch();
    };
  }

  /** Grants free slots to waiting keys in turn, starting after the key served last. */
  private dispatch(): void {
    while (this.total < this.limit) {
      const keys = [...this.waiting.keys()];
      if (!keys.length) return;
      const start = this.last === undefined ? 0 : (keys.indexOf(this.last) + 1) % keys.length || 0;
      const order = [...keys.slice(start), ...keys.slice(0, start)];
      const key = order.find((k) => (this.held.get(k) ?? 0) < this.perKey);
      if (key === undefined) return;
      const q = this.waiting.get(key)!;
      const w = q.shift()!;
      if (!q.length) this.waiting.delete(key);
      if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
      w.grant();
    }
  }
}
