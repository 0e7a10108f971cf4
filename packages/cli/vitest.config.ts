import { defineProject } from 'vitest/config';

// CYNCHRO_TOKEN of the developer's shell must not turn the tests' clients (and spawned CLIs) into API-token ones.
export default defineProject({
  test: { env: { CYNCHRO_TOKEN: '' }, name: 'cli', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 },
});
