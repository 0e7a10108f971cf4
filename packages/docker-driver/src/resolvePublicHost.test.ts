import { describe, expect, it } from 'vitest';
import { isPrivateAddress, resolvePublicHost } from './resolvePublicHost.js';

describe('private address checks', () => {
  it('classifies addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.17.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1', '::'])
      expect(`${a} ${isPrivateAddress(a)}`).toBe(`${a} true`);
    for (const a of ['140.82.112.3', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])
      expect(`${a} ${isPrivateAddress(a)}`).toBe(`${a} false`);
  });

  it('refuses literal and resolved private hosts', async () => {
    await expect(resolvePublicHost('127.0.0.1')).rejects.toMatchObject({ code: 'unsafe_url' });
    await expect(resolvePublicHost('[::1]')).rejects.toMatchObject({ code: 'unsafe_url' });
    await expect(resolvePublicHost('localhost')).rejects.toMatchObject({ code: 'unsafe_url' });
    await expect(resolvePublicHost('8.8.8.8')).resolves.toEqual(['8.8.8.8']);
  });
});
