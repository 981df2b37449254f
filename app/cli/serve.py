"""``soundscape serve``: the API (gunicorn) and one worker on the embedded default."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from app.config import load_settings
from app.db import upgrade


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
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--beat"], env=os.environ.copy()
    )
    try:
        return subprocess.call(
            [
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
        )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
