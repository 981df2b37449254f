#!/usr/bin/env bash
# Set everything up, then run the main job on the embedded default: analyze a generated example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/make_example.sh
if [ -z "${SOUNDSCAPE_WEIGHTS_DIR:-}" ] && [ -d ../shared/weights ]; then
  export SOUNDSCAPE_WEIGHTS_DIR=../shared/weights
fi
.venv/bin/soundscape analyze examples/example.flac "$@"
