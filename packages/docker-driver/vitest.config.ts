import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'docker-driver', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
