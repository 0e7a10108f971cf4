import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'example-github-actions', include: ['test/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 },
});
