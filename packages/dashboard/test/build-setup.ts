// The e2e test loads the built dashboard from the server: build it (and what it depends on) when stale, once a run.
import { build } from '../../../scripts/build.mjs';

export default async function setup(): Promise<void> {
  await build({ ifStale: true, only: ['dashboard'], tolerateTypeErrors: true });
}
