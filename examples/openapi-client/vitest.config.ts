import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.source.js';

export default defineProject({
  ...sourceConditions,
  test: { name: 'example-openapi-client', include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
});
