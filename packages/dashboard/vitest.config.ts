import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.source.js';

// The end-to-end test drives Debian's chromium against a live server and the real engine.
export default defineProject({
  ...sourceConditions,
  test: { env: { CYNCHRO_TOKEN: '' }, name: 'dashboard', globalSetup: ['test/build-setup.ts'], include: ['test/**/*.test.ts'], testTimeout: 90_000, hookTimeout: 180_000 },
});
