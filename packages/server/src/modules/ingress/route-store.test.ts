import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngressError } from './ingress.js';
import { createRouteStore } from './route-store.js';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cynchro-routes-'));

describe('route store', () => {
  it('loads nothing before the first save, then exactly the last table saved, normalized', async () => {
    const file = path.join(dir(), 'routes.json');
    const store = createRouteStore(file);
    expect(store.load()).toEqual([]);
    const saves = Array.from({ length: 20 }, (_, i) =>
      store.save([{ domain: `App${i}.Example.com`, appId: `app_${i}`, targets: [{ host: '127.0.0.1', port: 1000 + i }] }]),
    );
    await Promise.all(saves);
    expect(createRouteStore(file).load()).toEqual([{ domain: 'app19.example.com', appId: 'app_19', targets: [{ host: '127.0.0.1', port: 1019 }] }]);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['routes.json']); // no temporary file left
  });

  it('refuses a file that is not a route table, naming it', () => {
    const file = path.join(dir(), 'routes.json');
    for (const text of ['{"routes": [', '{"routes": {}}', '{"routes": [{"domain": "not a domain", "appId": "a", "targets": []}]}']) {
      fs.writeFileSync(file, text);
      expect(() => createRouteStore(file).load()).toThrow(IngressError);
      expect(() => createRouteStore(file).load()).toThrow(file);
    }
  });
});
