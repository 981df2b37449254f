"""Worker beats under load: how late a live worker's beat can come, against the silence after
which other workers take its stages over (app/workerbeats.py), and how many takeovers happen
when no worker died (false takeovers; each reruns a stage that was still running).

Starts its own PostgreSQL and Redis (tests/servers.py), gunicorn, and the deployed CPU and
GPU workers (docker/entrypoint.sh's options: ``--queues cpu --concurrency 2 --beat`` and
``--queues gpu --concurrency 1``), keeps ``--jobs`` real analyses of a 40 s song excerpt
in flight for ``--minutes``, and adds ``--hogs`` busy processes so the cores are
oversubscribed. Every 0.25 s it reads ``worker_beats``; a gap is the time between two beats
of one worker as PostgreSQL stamped them.

    .venv/bin/python benchmarks/bench_beats.py --minutes 5 --jobs 3 --hogs 4
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import workerbeats  # noqa: E402
from tests.servers import PostgresServer, RedisServer, free_port  # noqa: E402

SONG = ROOT.parent / "shared" / "audio" / "songs" / "Jonathan_Coulton_-_Better.mp3"
TAKEOVER_LOG = "the worker of its stage is gone"


def _burst() -> Any:
    """benchmarks/bench_burst.py as a module: its process and port helpers."""
    spec = importlib.util.spec_from_file_location(
        "bench_burst", ROOT / "benchmarks" / "bench_burst.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BeatGaps:
    """Samples ``worker_beats`` and keeps every gap between two beats of one worker."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.last: dict[str, datetime] = {}
        self.gaps: list[float] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopped.wait(0.25):
                for identity, seen in conn.execute("SELECT identity, seen_at FROM worker_beats"):
                    before = self.last.get(identity)
                    if before is not None and seen > before:
                        self.gaps.append((seen - before).total_seconds())
                    self.last[identity] = seen


def hog() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)


def run(minutes: float, jobs: int, hogs: int, folder: Path) -> dict[str, float]:
    burst = _burst()
    postgres = PostgresServer(folder / "postgres").init().start()
    redis = RedisServer(folder / "redis").start()
    database = postgres.create_database("beats")
    env = {
        **os.environ,
        "SOUNDSCAPE_DATA_DIR": str(folder / "data"),
        "SOUNDSCAPE_DATABASE_URL": database,
        "SOUNDSCAPE_BROKER_URL": f"{redis.url}/0",
        "SOUNDSCAPE_STORAGE_URL": (folder / "artifacts").as_uri(),
        "SOUNDSCAPE_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("SOUNDSCAPE_WEIGHTS_DIR", str(ROOT.parent / "shared" / "weights"))
    python = sys.executable
    subprocess.run([python, "-m", "app.cli", "db", "upgrade"], cwd=ROOT, env=env, check=True)
    key = subprocess.run(
        [python, "-m", "app.cli", "keys", "create", "--tenant", "beats"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    cli = [python, "-m", "app.cli", "worker"]
    procs = [
        burst.spawn(
            [python, "-m", "gunicorn", "app.wsgi:app", "-b", f"127.0.0.1:{port}", "-w", "2"],
            ROOT,
            env,
            folder / "api.log",
        ),
        burst.spawn(
            cli + ["--queues", "cpu", "--concurrency", "2", "--beat"],
            ROOT,
            env,
            folder / "worker-cpu.log",
        ),
        burst.spawn(
            cli + ["--queues", "gpu", "--concurrency", "1"], ROOT, env, folder / "worker-gpu.log"
        ),
    ]
    hogs_running = [hog() for _ in range(hogs)]
    plain = database.replace("postgresql+psycopg://", "postgresql://", 1)  # for psycopg itself
    sampler = BeatGaps(plain)
    clip = folder / "clip.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-ss",
            "30",
            "-t",
            "40",
            "-i",
            str(SONG),
            str(clip),
        ],
        check=True,
    )
    submitted: list[str] = []
    try:
        burst.wait_for(port)
        sampler.thread.start()
        deadline = time.monotonic() + 60 * minutes
        while time.monotonic() < deadline:
            if _unfinished(plain, submitted) < jobs:
                response = requests.post(
                    f"http://127.0.0.1:{port}/v1/jobs",
                    files={"file": ("clip.wav", clip.read_bytes())},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60,
                )
                response.raise_for_status()
                submitted.append(str(response.json()["id"]))
            time.sleep(1.0)
        sampler.stopped.set()
        sampler.thread.join()
        done = len(submitted) - _unfinished(plain, submitted)
    finally:
        for proc in hogs_running + procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in hogs_running + procs:
            proc.wait(timeout=60)
        redis.stop()
        postgres.stop()
    logs = "".join(
        (folder / name).read_text(errors="replace") for name in ("worker-cpu.log", "worker-gpu.log")
    )
    gaps = sorted(sampler.gaps)
    return {
        "beats observed": len(gaps),
        "median gap (s)": gaps[len(gaps) // 2],
        "p99 gap (s)": gaps[min(len(gaps) - 1, round(0.99 * (len(gaps) - 1)))],
        "longest gap (s)": gaps[-1],
        "gaps over the silence": sum(1 for gap in gaps if gap >= workerbeats.SILENCE_SECONDS),
        "false takeovers": logs.count(TAKEOVER_LOG),
        "jobs submitted": len(submitted),
        "jobs finished": done,
    }


def _unfinished(url: str, ids: list[str]) -> int:
    if not ids:
        return 0
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM jobs WHERE id = ANY(%s::uuid[])"
            " AND status NOT IN ('succeeded', 'failed', 'canceled')",
            (ids,),
        ).fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--jobs", type=int, default=3, help="analyses kept in flight")
    parser.add_argument("--hogs", type=int, default=4, help="busy processes beside the workers")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="soundscape-beats-"))
    folder.chmod(0o755)  # the postgres user must reach its data folder inside
    try:
        figures = run(args.minutes, args.jobs, args.hogs, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"beats every {workerbeats.BEAT_INTERVAL_SECONDS:g} s,"
        f" silence {workerbeats.SILENCE_SECONDS:g} s;"
        f" {args.minutes:g} min, {args.jobs} jobs in flight, {args.hogs} busy processes,"
        f" {os.cpu_count()} cores"
    )
    for name, value in figures.items():
        print(
            f"  {name:24s} {value:8.2f}" if isinstance(value, float) else f"  {name:24s} {value:8d}"
        )


if __name__ == "__main__":
    main()
