#!/usr/bin/env bash
# Set everything up and run lint, types and the whole test suite. The integration tests use
# PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) and start moto_server, gunicorn and
# Celery workers themselves; they fail with a message naming any service that is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${SOUNDSCAPE_WEIGHTS_DIR:-}" ] && [ -d ../shared/weights ]; then
  export SOUNDSCAPE_WEIGHTS_DIR=../shared/weights
fi
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/pytest "$@"
