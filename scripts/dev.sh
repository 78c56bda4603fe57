#!/usr/bin/env bash
# The README's two commands: `scripts/dev.sh start` and `scripts/dev.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/bin:$PATH"
bash scripts/ensure-tools.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci; fi
case "${1:-}" in
  start) exec npm start ;;
  test) exec npm test ;;
  *) echo "usage: scripts/dev.sh start|test" >&2; exit 2 ;;
esac
