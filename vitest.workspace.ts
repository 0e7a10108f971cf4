// The root vitest config (vitest 4 no longer discovers workspace files by name; run with --config).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*'],
  },
});
