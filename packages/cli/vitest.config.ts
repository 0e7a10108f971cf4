import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.source.js';

// CYNCHRO_TOKEN of the developer's shell must not turn the tests' clients (and spawned CLIs) into API-token ones.
// The bin runs the compiled CLI: the global setup builds what is stale first.
export default defineProject({
  ...sourceConditions,
  test: { env: { CYNCHRO_TOKEN: '' }, name: 'cli', globalSetup: ['../../vitest.build-setup.ts'], include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 },
});
