import type { DockerDriver, EngineEvent, EngineEventsOptions } from '../../src/index.js';

/**
 * Follows a driver's events in the background. `when` waits for an event, not for time: it settles as soon as
 * the event arrives (or the iteration fails), with a deadline only so a missing event fails the test.
 */
export function watchEvents(driver: DockerDriver, opts: Omit<EngineEventsOptions, 'signal'> = {}) {
  const ac = new AbortController();
  const seen: EngineEvent[] = [];
  const checks = new Set<() => void>();
  let failed: { err: unknown } | undefined;
  const done = (async () => {
    for await (const ev of driver.events({ ...opts, signal: ac.signal })) {
      seen.push(ev);
      for (const check of [...checks]) check();
    }
  })().catch((err: unknown) => {
    failed = { err };
    for (const check of [...checks]) check();
  });
  const of = (id: string) => seen.filter((e) => e.containerId === id);
  return {
    seen,
    /** Settles when the iteration ends by itself (not through stop()): with what it threw, or undefined. */
    ended: done.then(() => failed?.err),
    /** The events of one container so far. */
    of,
    /** The container's events once `nth` of them have action `action`. */
    when(id: string, action: EngineEvent['action'], nth = 1, timeoutMs = 20_000): Promise<EngineEvent[]> {
      return new Promise((resolve, reject) => {
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          checks.delete(check);
          fn();
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`no ${action} #${nth} of ${id} within ${timeoutMs} ms; saw ${of(id).map((e) => e.action).join(', ') || 'nothing'}`))),
          timeoutMs,
        );
        const check = () => {
          if (of(id).filter((e) => e.action === action).length >= nth) finish(() => resolve(of(id)));
          else if (failed) finish(() => reject(failed?.err));
        };
        checks.add(check);
        check();
      });
    },
    /** Ends the iteration; rethrows what it failed with, if it did. */
    async stop(): Promise<void> {
      ac.abort();
      await done;
      if (failed) throw failed.err;
    },
  };
}
