import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'vault', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
