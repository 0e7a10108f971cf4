#!/usr/bin/env bash
# Runs every test: installs what is missing (Docker engine, busybox-static, git, Caddy on Debian as root; pnpm;
# dependencies), starts dockerd if needed, type-checks, builds the SDK, runs every vitest project.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
bash scripts/bootstrap.sh
pnpm typecheck
pnpm --filter @cynchro/sdk build >/dev/null
report=$(mktemp)
set +e
pnpm exec vitest run --config vitest.workspace.ts --reporter=default --reporter=json --outputFile.json="$report" "$@"
status=$?
set -e
# A plain closing line that any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`vitest: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$report" 2>/dev/null || echo "vitest: 0 passed, 1 failed"
rm -f "$report"
exit $status
