import { describe, expect, it } from 'vitest';
import { AppLocks } from './app-locks.js';

describe('AppLocks', () => {
  it('runs work on one app one at a time, in order, and other apps alongside', async () => {
    const locks = new AppLocks();
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = locks.run('a', async () => {
      seen.push('a1 start');
      await gate;
      seen.push('a1 end');
    });
    const a2 = locks.run('a', async () => void seen.push('a2'));
    await locks.run('b', async () => void seen.push('b'));
    expect(locks.busy('a')).toBe(true);
    expect(await locks.tryRun('a', async () => 'ran')).toBeUndefined();
    release();
    await Promise.all([a1, a2]);
    expect(seen).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
    expect(locks.busy('a')).toBe(false);
    expect(await locks.tryRun('a', async () => 'ran')).toBe('ran');
  });
  it('frees the app when the work throws', async () => {
    const locks = new AppLocks();
    await expect(locks.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await locks.tryRun('a', async () => 1)).toBe(1);
  });
});
