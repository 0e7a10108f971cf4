import { defineProject } from 'vitest/config';
import { sourceConditions } from '../../vitest.source.js';

export default defineProject({
  ...sourceConditions,
  test: { name: 'vault', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
