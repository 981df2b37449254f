#!/usr/bin/env bash
# Set everything up and run lint, format, types and the whole test suite. The integration tests
# use PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) and start moto_server, gunicorn and
# Celery workers themselves; they fail with a message naming any service that is missing.
# --fast: the same checks but unit tests only (no tests marked integration or slow), no servers.
set -euo pipefail
cd "$(dirname "$0")/.."
markers=()
if [ "${1:-}" = "--fast" ]; then
  shift
  markers=(-m "not integration and not slow")
fi
bash scripts/setup.sh
if [ -z "${SOUNDSCAPE_WEIGHTS_DIR:-}" ] && [ -d ../shared/weights ]; then
  export SOUNDSCAPE_WEIGHTS_DIR=../shared/weights
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/pytest "${markers[@]}" "$@"
