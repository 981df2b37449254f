#!/usr/bin/env bash
# Set everything up and run lint, format, types, the import layers (pyproject.toml
# [tool.importlinter]) and the whole test suite. The integration tests
# use PostgreSQL and Redis at SOUNDSCAPE_TEST_PG / SOUNDSCAPE_TEST_REDIS (default 127.0.0.1:5432
# and :6379); when either does not answer, this script starts throwaway ones of its own on free
# ports in a temporary folder (installing the Debian packages postgresql and redis-server if
# they are missing) and stops them at the end. The tests start moto_server, gunicorn and
# Celery workers themselves.
# --fast: the same checks but unit tests only (no tests marked integration or slow), no servers.
set -euo pipefail
cd "$(dirname "$0")/.."
markers=()
fast=""
if [ "${1:-}" = "--fast" ]; then
  shift
  fast=1
  markers=(-m "not integration and not slow")
fi
bash scripts/setup.sh
if [ -z "${SOUNDSCAPE_WEIGHTS_DIR:-}" ] && [ -d ../shared/weights ]; then
  export SOUNDSCAPE_WEIGHTS_DIR=../shared/weights
fi

have_servers() {
  command -v redis-server >/dev/null &&
    { command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
}

start_throwaway_servers() {
  if ! have_servers; then
    echo "test.sh: installing postgresql and redis-server (Debian packages)" >&2
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get install -y --no-install-recommends postgresql redis-server ||
      { "${sudo_cmd[@]}" apt-get update && \
        "${sudo_cmd[@]}" apt-get install -y --no-install-recommends postgresql redis-server; }
  fi
  servers_dir=$(mktemp -d /tmp/soundscape-test-servers-XXXXXX)
  chmod 755 "$servers_dir"  # the postgres user must reach its data folder inside
  trap '.venv/bin/python -m tests.servers stop "$servers_dir"; rm -rf "$servers_dir"' EXIT
  while IFS= read -r line; do
    export "${line?}"
  done < <(.venv/bin/python -m tests.servers start "$servers_dir")
  echo "test.sh: throwaway PostgreSQL at $SOUNDSCAPE_TEST_PG, Redis at $SOUNDSCAPE_TEST_REDIS" >&2
}

if [ -z "$fast" ]; then
  pg=${SOUNDSCAPE_TEST_PG:-postgresql://postgres@127.0.0.1:5432/postgres}
  redis=${SOUNDSCAPE_TEST_REDIS:-redis://127.0.0.1:6379}
  if ! .venv/bin/python -m tests.servers answers "$pg" ||
     ! .venv/bin/python -m tests.servers answers "$redis"; then
    start_throwaway_servers
  fi
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports
.venv/bin/pytest "${markers[@]}" "$@"
