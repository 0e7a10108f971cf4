#!/usr/bin/env bash
# Runs every test: installs what is missing (Docker engine, busybox-static, git, Caddy on Debian as root; pnpm;
# dependencies), starts dockerd if needed, type-checks, builds every package (`pnpm build`: the CLI tests, the
# packed-install and compiled-server tests run the build), runs every vitest project.
#
# Three vitest runs: everything except the engine-restart and Swarm tests; then the Swarm tests (`*.swarm.test.ts`),
# one file at a time: each starts a cluster of three engines in network namespaces (test/helpers/swarmCluster.ts in
# the docker-driver package), too heavy to share two cores with the rest; then the engine-restart test on its own.
# It stops and restarts dockerd, which would pull the engine out from under any other real-engine test running
# beside it, so it comes last. With arguments (vitest options or file filters), they go to the main run; the
# Swarm and engine-restart runs happen only when an argument names them (`pnpm test .swarm.test`,
# `pnpm test engine-restart`), and then without the main run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh --tests
bash scripts/bootstrap.sh
pnpm typecheck
pnpm build

ENGINE_RESTART_TEST=packages/server/test/engine-restart.docker.test.ts
SWARM_TESTS=.swarm.test.ts
run_main=1
run_swarm=1
run_engine=1
if [ "$#" -gt 0 ]; then
  run_swarm=0
  run_engine=0
  for a in "$@"; do
    case "$a" in
      *engine-restart*) run_engine=1 run_main=0 ;;
      *.swarm.test*) run_swarm=1 run_main=0 ;;
    esac
  done
fi

main_report=$(mktemp)
swarm_report=$(mktemp)
engine_report=$(mktemp)
trap 'rm -f "$main_report" "$swarm_report" "$engine_report"' EXIT
main_status=0
swarm_status=0
engine_status=0
set +e
if [ "$run_main" = 1 ]; then
  pnpm exec vitest run --config vitest.workspace.ts --exclude '**/engine-restart.docker.test.ts' --exclude '**/*.swarm.test.ts' \
    --reporter=default --reporter=json --outputFile.json="$main_report" "$@"
  main_status=$?
fi
if [ "$run_swarm" = 1 ]; then
  if [ "$#" -gt 0 ]; then swarm_args=("$@"); else swarm_args=("$SWARM_TESTS"); fi
  pnpm exec vitest run --config vitest.workspace.ts --no-file-parallelism \
    --reporter=default --reporter=json --outputFile.json="$swarm_report" "${swarm_args[@]}"
  swarm_status=$?
fi
if [ "$run_engine" = 1 ]; then
  if [ "$#" -gt 0 ]; then engine_args=("$@"); else engine_args=("$ENGINE_RESTART_TEST"); fi
  pnpm exec vitest run --config vitest.workspace.ts \
    --reporter=default --reporter=json --outputFile.json="$engine_report" "${engine_args[@]}"
  engine_status=$?
fi
set -e

# A plain closing line that any CI can read: the runs summed. A run that was due and left no readable report
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
' "$main_report" "$run_main" "$swarm_report" "$run_swarm" "$engine_report" "$run_engine" 2>/dev/null || echo "vitest: 0 passed, 1 failed"

if [ "$main_status" -ne 0 ]; then exit "$main_status"; fi
if [ "$swarm_status" -ne 0 ]; then exit "$swarm_status"; fi
exit "$engine_status"
