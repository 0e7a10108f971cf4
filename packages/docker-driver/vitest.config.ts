import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.source.js';

export default defineProject({
  ...sourceConditions,
  test: {
    name: 'docker-driver',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The real-engine suites share one dockerd and two cores; running them one file at a time keeps timings honest.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
