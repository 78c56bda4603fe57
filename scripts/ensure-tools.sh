#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to run Task Dispatcher: Node 24 and redis-server.
# Safe to run again: it only installs what is missing.
set -euo pipefail

if ! node --version 2>/dev/null | grep -q '^v2[4-9]'; then
  echo "› installing Node 24 (found: $(node --version 2>/dev/null || echo none))"
  npm i -g --prefix /usr/local node@24 >/dev/null
  hash -r
fi
node --version | grep -q '^v2[4-9]' || { echo "Node 24 is not first on PATH (put /usr/local/bin first)" >&2; exit 1; }

if ! command -v redis-server >/dev/null; then
  echo "› installing redis-server"
  if command -v apt-get >/dev/null; then
    SUDO=''; [ "$(id -u)" -eq 0 ] || SUDO='sudo'
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing: install Redis 7 (https://redis.io/docs/install) or set REDIS_URL" >&2
    exit 1
  fi
fi
