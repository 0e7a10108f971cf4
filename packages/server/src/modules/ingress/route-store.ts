// The ingress's last confirmed route table on disk, so an ingress that restarts (crash, host reboot, upgrade)
// serves every held domain again before the control plane says anything. Every save is atomic: a temporary file
// (0600) written and fsynced, renamed over the old one, and the directory fsynced, so a crash at any point leaves
// either the old table or the new one, never a mix.
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { IngressError, normalizeTable, type IngressRoute } from './ingress.js';
import { parseRoutes } from './route-body.js';

export interface RouteStore {
  /** The saved table ([] when none was saved yet). Throws IngressError when the file exists but is not a table. */
  load(): IngressRoute[];
  /** Persists `routes`; saves are applied in call order. */
  save(routes: IngressRoute[]): Promise<void>;
}

export function createRouteStore(file: string): RouteStore {
  let chain: Promise<void> = Promise.resolve();
  let seq = 0;

  async function write(routes: IngressRoute[]): Promise<void> {
    const tmp = `${file}.${process.pid}.${++seq}.tmp`;
    const handle = await fs.open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify({ version: 1, routes })}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    // The rename itself is durable only once the directory entry is.
    const dir = await fs.open(path.dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  return {
    load() {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      try {
        const parsed = JSON.parse(text) as { routes?: unknown };
        return [...normalizeTable(parseRoutes(parsed?.routes)).values()];
      } catch (err) {
        throw new IngressError(`${file} does not hold a route table: ${(err as Error).message}`);
      }
    },
    save(routes) {
      const run = chain.then(() => write(routes));
      chain = run.catch(() => undefined);
      return run;
    },
  };
}
