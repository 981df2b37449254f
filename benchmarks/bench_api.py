"""API submit throughput: POST /v1/jobs requests per second against a real gunicorn with
real PostgreSQL and Redis (no worker runs, so only submission is measured).

Each request uploads a 5 s MP3 of real speech (multipart), which the API sniffs, stores in
the artifact folder, records in PostgreSQL and enqueues in Redis. A fresh database and
Redis db 12 are used and removed afterwards.

    .venv/bin/python benchmarks/bench_api.py [--requests 300] [--concurrency 8] [--api-workers 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.config import PROJECT_ROOT  # noqa: E402
from app.db import upgrade  # noqa: E402
from app.services.tenants import create_key  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/12"


def make_clip(tmp: Path) -> bytes:
    clip = tmp / "clip.mp3"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(PROJECT_ROOT.parent / "shared" / "audio" / "198-209-0000.ogg"),
            "-t",
            "5",
            str(clip),
        ],
        check=True,
    )
    return clip.read_bytes()


def start_api(env: dict[str, str], workers: int, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "app.wsgi:app",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(120):
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("gunicorn did not become ready")


def run_load(url: str, key: str, clip: bytes, total: int, concurrency: int) -> list[float]:
    def one(_: int) -> float:
        start = time.perf_counter()
        response = requests.post(
            url,
            files={"file": ("clip.mp3", clip)},
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        )
        if response.status_code != 202:
            raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
        return time.perf_counter() - start

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(total)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--api-workers", type=int, default=4)
    args = parser.parse_args()
    name = f"soundscape_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            env = {
                **os.environ,
                "SOUNDSCAPE_DATABASE_URL": database_url,
                "SOUNDSCAPE_BROKER_URL": REDIS_URL,
                "SOUNDSCAPE_DATA_DIR": str(tmp),
            }
            upgrade(database_url)
            key, clip, port = create_key(database_url, "bench"), make_clip(tmp), 8790
            api = start_api(env, args.api_workers, port)
            try:
                url = f"http://127.0.0.1:{port}/v1/jobs"
                run_load(url, key, clip, 20, args.concurrency)  # warm-up
                start = time.perf_counter()
                latencies = run_load(url, key, clip, args.requests, args.concurrency)
                wall = time.perf_counter() - start
            finally:
                api.terminate()
                api.wait(timeout=30)
        quantiles = statistics.quantiles(latencies, n=100)
        print(
            f"requests {args.requests}  concurrency {args.concurrency}  "
            f"gunicorn workers {args.api_workers}  upload {len(clip) / 1024:.0f} KiB"
        )
        print(
            f"throughput {args.requests / wall:.1f} submits/s  "
            f"latency p50 {quantiles[49] * 1000:.0f} ms  p95 {quantiles[94] * 1000:.0f} ms"
        )
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
