#!/usr/bin/env bash
# Runs every test: installs what is missing (Docker engine, busybox-static, git, Caddy on Debian as root; pnpm;
# dependencies), starts dockerd if needed, type-checks, builds every package (`pnpm build`: the CLI tests, the
# packed-install and compiled-server tests run the build), runs every vitest project.
#
# Two vitest runs: everything except the engine-restart test, then that test on its own. It stops and restarts
# dockerd, which would pull the engine out from under any other real-engine test running beside it, so it comes
# last. With arguments (vitest options or file filters), they go to the main run; the engine-restart run happens
# only when an argument names it (`pnpm test engine-restart`), and then alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
bash scripts/bootstrap.sh
pnpm typecheck
pnpm build

ENGINE_RESTART_TEST=packages/server/test/engine-restart.docker.test.ts
run_main=1
run_engine=1
if [ "$#" -gt 0 ]; then
  run_engine=0
  for a in "$@"; do
    case "$a" in *engine-restart*) run_engine=1 run_main=0 ;; esac
  done
fi

main_report=$(mktemp)
engine_report=$(mktemp)
trap 'rm -f "$main_report" "$engine_report"' EXIT
main_status=0
engine_status=0
set +e
if [ "$run_main" = 1 ]; then
  pnpm exec vitest run --config vitest.workspace.ts --exclude '**/engine-restart.docker.test.ts' \
    --reporter=default --reporter=json --outputFile.json="$main_report" "$@"
  main_status=$?
fi
if [ "$run_engine" = 1 ]; then
  if [ "$#" -gt 0 ]; then engine_args=("$@"); else engine_args=("$ENGINE_RESTART_TEST"); fi
  pnpm exec vitest run --config vitest.workspace.ts \
    --reporter=default --reporter=json --outputFile.json="$engine_report" "${engine_args[@]}"
  engine_status=$?
fi
set -e

# A plain closing line that any CI can read: both runs summed. A run that was due and left no readable report
# counts as one failed test.
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0;
  for (let i = 1; i < process.argv.length; i += 2) {
    if (process.argv[i + 1] !== "1") continue;
    try {
      const r = JSON.parse(fs.readFileSync(process.argv[i], "utf8"));
      passed += r.numPassedTests;
      failed += r.numFailedTests;
    } catch {
      failed += 1;
    }
  }
  console.log(`vitest: ${passed} passed, ${failed} failed`);
' "$main_report" "$run_main" "$engine_report" "$run_engine" 2>/dev/null || echo "vitest: 0 passed, 1 failed"

if [ "$main_status" -ne 0 ]; then exit "$main_status"; fi
exit "$engine_status"
