"""``soundscape serve``: the API (gunicorn) and one worker on the embedded default, supervised.

A worker that dies is started again (and ``/readyz`` says not ready until it is back);
work it had in flight runs again when it starts. SIGTERM or SIGINT stops both children
and frees the port, as a process supervisor expects.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from app.config import load_settings
from app.db import upgrade

# A worker dying again and again is restarted after 1, 2, 4 ... s, at most this often.
MAX_RESTART_DELAY_SECONDS = 30.0
# A worker that ran this long before dying is restarted at once.
HEALTHY_RUN_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
WORKER = [sys.executable, "-m", "app.cli", "worker", "--beat"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-workers", type=int, default=2)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    upgrade(settings.database_url)
    print(
        f"soundscape: data in {settings.data_dir}; API on http://{args.host}:{args.port}",
        file=sys.stderr,
    )
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    children = {"api": _spawn(_gunicorn(args)), "worker": _spawn(WORKER)}
    try:
        code = _supervise(children, settings.worker_alive_file, stop)
    finally:
        for name in ("worker", "api"):
            _stop(children[name])
    return code if not received else 0


def _supervise(
    children: dict[str, subprocess.Popen[bytes]], alive_file: Path, stop: threading.Event
) -> int:
    """Restart the worker whenever it exits (``children["worker"]`` is the live one);
    return when asked to stop, or when the API exits (its code: a supervisor above
    restarts the whole service)."""
    api, worker = children["api"], children["worker"]
    started, delay = time.monotonic(), 1.0
    while not stop.wait(0.5):
        if api.poll() is not None:
            print(f"soundscape: the API exited ({api.returncode}); stopping", file=sys.stderr)
            return api.returncode or 1
        if worker.poll() is None:
            continue
        _mark_down(alive_file)
        _kill_group(worker)  # pool children of a killed worker must not linger
        ran = time.monotonic() - started
        delay = 1.0 if ran > HEALTHY_RUN_SECONDS else min(delay * 2, MAX_RESTART_DELAY_SECONDS)
        print(
            f"soundscape: the worker exited ({worker.returncode}); restarting in {delay:.0f} s",
            file=sys.stderr,
        )
        if stop.wait(delay):
            break
        worker = children["worker"] = _spawn(WORKER)
        started = time.monotonic()
    return 0


def _mark_down(alive_file: Path) -> None:
    """Make the worker's liveness file stale at once: ``/readyz`` reports it down."""
    if alive_file.exists():
        os.utime(alive_file, (0, 0))


def _gunicorn(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "app.wsgi:app",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.api_workers),
        "--timeout",
        "120",
    ]


def _spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    # Its own process group: stopping it reaches its own children (gunicorn's workers,
    # Celery's pool), and a Ctrl-C in the terminal reaches serve alone, which stops them.
    return subprocess.Popen(cmd, env=os.environ.copy(), start_new_session=True)


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child (gunicorn and Celery then stop their own children), SIGKILL to
    its whole group when it does not stop in time."""
    if child.poll() is None:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=STOP_TIMEOUT_SECONDS)
    _kill_group(child)
    child.wait()


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
