#!/usr/bin/env bash
# One command for a newcomer: install what is missing (Docker engine on Debian as root, pnpm, dependencies),
# then run the server with SQLite and the embedded ingress (`pnpm start`). Configure with the variables in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system.sh
bash scripts/bootstrap.sh
exec pnpm start
