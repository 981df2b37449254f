#!/bin/sh
# Pick the container's role: api, worker-cpu, worker-gpu, migrate (or any command).
set -e
role="${1:-api}"
shift || true
case "$role" in
  api)        exec gunicorn app.wsgi:app --bind 0.0.0.0:8000 --workers "${API_WORKERS:-4}" --timeout 120 "$@" ;;
  worker-cpu) exec soundscape worker --queues cpu --concurrency "${WORKER_CONCURRENCY:-2}" --beat "$@" ;;
  worker-gpu) exec soundscape worker --queues gpu --concurrency 1 "$@" ;;
  migrate)    exec soundscape db upgrade "$@" ;;
  *)          exec "$role" "$@" ;;
esac
