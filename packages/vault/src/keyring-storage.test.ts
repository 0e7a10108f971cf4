import { describe, expect, it } from 'vitest';
import { MemoryKeyringStorage } from './keyring-storage.js';

describe('MemoryKeyringStorage', () => {
  it('compares and swaps', async () => {
    const storage = new MemoryKeyringStorage();
    expect(await storage.load()).toBeNull();
    await storage.save('a', null);
    await expect(storage.save('b', null)).rejects.toMatchObject({ code: 'conflict' });
    await expect(storage.save('b', 'x')).rejects.toMatchObject({ code: 'conflict' });
    await storage.save('b', 'a');
    expect(await storage.load()).toBe('b');
  });
});
