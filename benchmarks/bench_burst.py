"""Burst latency on one worker: submit N jobs at once, report p50/p95 of each job's time
from submission to finish, and how many jobs had started their first stage when the
first job finished (1 when started jobs go first; N when every chain interleaves).

Starts its own PostgreSQL and Redis (tests/servers.py, free ports, a temporary folder),
gunicorn and one Celery worker (concurrency 1) from ``--tree`` (default: this checkout),
so an older commit can be measured the same way:

    git archive <commit> | tar -x -C /tmp/soundscape-before
    .venv/bin/python benchmarks/bench_burst.py --jobs 20 --tree /tmp/soundscape-before
    .venv/bin/python benchmarks/bench_burst.py --jobs 20

Each job is a 2 s excerpt of real speech (../shared/audio), stored in a local folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import PostgresServer, RedisServer, free_port  # noqa: E402

AUDIO = ROOT.parent / "shared" / "audio" / "198-209-0000.ogg"


def make_clip(folder: Path, seconds: float) -> bytes:
    clip = folder / "clip.wav"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(AUDIO), "-t", str(seconds)]
        + [str(clip)],
        check=True,
    )
    return clip.read_bytes()


def spawn(cmd: list[str], tree: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=tree,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {port}")


def run_burst(tree: Path, jobs: int, seconds: float, folder: Path) -> dict[str, float]:
    postgres = PostgresServer(folder / "postgres").init().start()
    redis = RedisServer(folder / "redis").start()
    database = postgres.create_database("bench")
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
    subprocess.run([python, "-m", "app.cli", "db", "upgrade"], cwd=tree, env=env, check=True)
    key = subprocess.run(
        [python, "-m", "app.cli", "keys", "create", "--tenant", "bench"],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    api = spawn(
        [python, "-m", "gunicorn", "app.wsgi:app", "-b", f"127.0.0.1:{port}", "-w", "2"],
        tree,
        env,
        folder / "api.log",
    )
    worker = spawn(
        [python, "-m", "app.cli", "worker", "--queues", "cpu,gpu", "--concurrency", "1"],
        tree,
        env,
        folder / "worker.log",
    )
    try:
        wait_for(port)
        clip = make_clip(folder, seconds)

        def submit(i: int) -> str:
            response = requests.post(
                f"http://127.0.0.1:{port}/v1/jobs",
                files={"file": (f"clip-{i}.wav", clip)},
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            response.raise_for_status()
            return str(response.json()["id"])

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(submit, range(jobs)))
        return _wait_and_measure(postgres.admin_url.rsplit("/", 1)[0] + "/bench", ids)
    finally:
        for proc in (worker, api):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
        redis.stop()
        postgres.stop()


def _wait_and_measure(url: str, ids: list[str]) -> dict[str, float]:
    query = (
        "SELECT status, EXTRACT(EPOCH FROM finished_at - created_at),"
        " started_at, finished_at FROM jobs WHERE id = ANY(%s::uuid[])"
    )
    while True:
        with psycopg.connect(url) as conn:
            rows = conn.execute(query, (ids,)).fetchall()
        if all(row[0] in ("succeeded", "failed", "canceled") for row in rows):
            break
        time.sleep(1.0)
    latencies = sorted(float(row[1]) for row in rows)
    first_done = min(row[3] for row in rows)
    started_before = sum(1 for row in rows if row[2] is not None and row[2] <= first_done)
    return {
        "jobs": len(rows),
        "succeeded": sum(1 for row in rows if row[0] == "succeeded"),
        "p50_s": statistics.median(latencies),
        "p95_s": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
        "first_s": latencies[0],
        "makespan_s": latencies[-1],
        "started_before_first_finished": started_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each clip")
    parser.add_argument("--tree", type=Path, default=ROOT, help="source tree to run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="soundscape-burst-"))
    folder.chmod(0o755)  # the postgres user must reach its data folder inside
    try:
        figures = run_burst(args.tree.resolve(), args.jobs, args.seconds, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"tree: {args.tree}  ({args.jobs} jobs of {args.seconds:g} s on one worker)")
    for name, value in figures.items():
        print(
            f"  {name:32s} {value:8.1f}" if isinstance(value, float) else f"  {name:32s} {value:8d}"
        )


if __name__ == "__main__":
    main()
