#!/usr/bin/env bash
# Set up a fresh machine: system audio tools, then the virtual environment at .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> the Debian package that provides it (chromium and its driver: the browser test)
declare -A package_of=([ffmpeg]=ffmpeg [ffprobe]=ffmpeg [sox]=sox [espeak-ng]=espeak-ng
                       [lame]=lame [chromium]=chromium [chromedriver]=chromium-driver)
need=()
for tool in "${!package_of[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || need+=("${package_of[$tool]}")
done
if [ ${#need[@]} -gt 0 ]; then
  packages=$(printf '%s\n' "${need[@]}" libsndfile1 | sort -u | tr '\n' ' ')
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages; install ${packages}(as root) and rerun" >&2
    exit 1
  fi
  echo "setup: installing ${packages}with apt-get"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
fi

# Decoding resamples with soxr; an ffmpeg built without it would fail every file.
if ! ffmpeg -hide_banner -loglevel error -f lavfi -i anullsrc=r=48000 -t 0.1 \
     -af aresample=resampler=soxr -ar 44100 -f null - ; then
  echo "setup: this ffmpeg lacks the soxr resampler; install Debian's ffmpeg" >&2
  exit 1
fi

# resemblyzer (its wheel ships the speaker encoder's weights) depends on webrtcvad, which pip
# builds from source: that needs a C compiler and the Python headers.
py_include=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
if ! command -v cc >/dev/null 2>&1 || [ ! -f "$py_include/Python.h" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: a C compiler and the Python headers are needed (apt-get install gcc python3-dev)" >&2
    exit 1
  fi
  echo "setup: installing gcc python3-dev with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc python3-dev >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The CPU build of torch first: a plain 'torch' requirement would pull several GB of CUDA wheels.
# This machine kind keeps that wheel locally; elsewhere fall back to the registry's build.
.venv/bin/pip install -q "torch==2.13.0+cpu" || .venv/bin/pip install -q "torch==2.13.0"
.venv/bin/pip install -q -e '.[dev]'
echo "setup: ready (.venv)"
