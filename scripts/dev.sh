#!/usr/bin/env bash
# The README's two commands: `scripts/dev.sh start` and `scripts/dev.sh test`; `scripts/dev.sh cli ...` runs the
# operator CLI (e.g. `scripts/dev.sh cli clients create my-service` for the first API key, which `start` asks for).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/bin:$PATH"
bash scripts/ensure-tools.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci; fi
case "${1:-}" in
  start) exec npm start ;;
  test) exec npm test ;;
  cli) shift; exec node src/cli.ts "$@" ;;
  *) echo "usage: scripts/dev.sh start|test|cli <command>" >&2; exit 2 ;;
esac
