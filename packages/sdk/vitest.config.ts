import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.source.js';

// CYNCHRO_TOKEN of the developer's shell must not turn the tests' clients (and spawned CLIs) into API-token ones.
export default defineProject({
  ...sourceConditions,
  test: { env: { CYNCHRO_TOKEN: '' }, name: 'sdk', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 },
});
