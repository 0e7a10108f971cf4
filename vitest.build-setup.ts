// Global setup of the projects whose tests run compiled code (the `cynchro` bin, the compiled server): builds what
// is stale once per test run (scripts/build.mjs: instant when up to date, locked against concurrent builds). Type
// errors do not stop the tests (`pnpm typecheck` reports them); a build that emits nothing does.
import { build } from './scripts/build.mjs';

export default async function setup(): Promise<void> {
  await build({ ifStale: true, tolerateTypeErrors: true });
}
