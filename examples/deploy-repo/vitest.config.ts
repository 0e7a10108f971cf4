import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.source.js';

export default defineProject({
  ...sourceConditions,
  test: { name: 'example-deploy-repo', include: ['test/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 120_000 },
});
