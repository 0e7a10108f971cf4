#!/usr/bin/env bash
# Shared by start.sh and test.sh: the pinned pnpm and the workspace's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
# pnpm 12 ignores nodedir from ~/.npmrc; without this node-gyp tries to download headers for better-sqlite3.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
want=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing pnpm@$want"
  npm install -g "pnpm@$want" >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
