import { describe, expect, it } from 'vitest';
import { Canceled } from '../../lib/step-timeout.js';
import { FairSemaphore } from './fair-semaphore.js';

describe('FairSemaphore', () => {
  it('serves waiting orgs in turn, not in arrival order', async () => {
    const s = new FairSemaphore(1);
    const order: string[] = [];
    const granted: (() => void)[] = [];
    const first = await s.acquire('busy');
    const keys = ['busy', 'busy', 'busy', 'quiet'];
    const waits = keys.map((k) => s.acquire(k).then((release) => (order.push(k), granted.push(release))));
    first();
    for (let i = 0; i < keys.length; i++) {
      await new Promise((r) => setImmediate(r));
      expect(granted).toHaveLength(i + 1); // one slot: exactly one more holder each round
      granted[i]!();
    }
    await Promise.all(waits);
    // The quiet org is served right after the busy org's current build, not behind its whole backlog.
    expect(order).toEqual(['quiet', 'busy', 'busy', 'busy']);
  });

  it('never lets one org hold every slot while another waits', async () => {
    const s = new FairSemaphore(3);
    const held = [await s.acquire('a'), await s.acquire('a')];
    expect(s.busy('a')).toBe(true);
    let aThird = false;
    void s.acquire('a').then(() => (aThird = true));
    const b = await s.acquire('b');
    expect(s.inUse).toBe(3);
    expect(aThird).toBe(false);
    held[0]!();
    await new Promise((r) => setImmediate(r));
    expect(aThird).toBe(true);
    b();
  });

  it('a waiter that gives up leaves the queue', async () => {
    const s = new FairSemaphore(1);
    const r = await s.acquire('a');
    const ac = new AbortController();
    const gaveUp = s.acquire('b', ac.signal);
    ac.abort();
    await expect(gaveUp).rejects.toBeInstanceOf(Canceled);
    r();
    const again = await s.acquire('b');
    expect(s.inUse).toBe(1);
    again();
  });
});
