"""Catalogue-scan figures: batch intake rate (items per second for a manifest and for
uploads one file at a time) and end-to-end throughput of a batch of short tracks with 1 and
2 worker processes, against gunicorn, PostgreSQL and Redis, with a local artifact folder.

Intake is measured with no worker running (only the API's work: parse, validate, store,
dispatch the first items). Throughput runs the real pipeline: every item goes through
ingest, separate, detect and finalize on ``soundscape worker`` processes (concurrency 1
each), timed from the batch's creation to its completion, after a warm-up batch has loaded
the models. A fresh database and a free Redis database are used and removed afterwards.

    .venv/bin/python benchmarks/batches.py [--manifest-items 10000] [--uploads 500]
        [--tracks 200] [--seconds 2] [--workers 1 2] [--api-workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
import redis
import requests
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cli import batchclient  # noqa: E402
from app.config import PROJECT_ROOT  # noqa: E402
from app.db import upgrade  # noqa: E402
from app.services.tenants import create_key  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_SERVER = "redis://127.0.0.1:6379"
CLAIM_KEY = "soundscape-bench-batches"


def claim_redis() -> str:
    """A Redis database nobody else uses (the test sessions claim theirs the same way)."""
    for db in range(1, 16):
        client = redis.Redis.from_url(f"{REDIS_SERVER}/{db}")
        if client.dbsize() == 0 and client.set(CLAIM_KEY, os.getpid(), nx=True, ex=3600):
            return f"{REDIS_SERVER}/{db}"
    raise SystemExit("no free Redis database")


def write_tracks(folder: Path, count: int, seconds: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    paths = []
    for i in range(count):
        tone = 0.3 * np.sin(2 * np.pi * (180.0 + 3.0 * i) * t)
        path = folder / f"track-{i:05d}.flac"
        sf.write(path, np.stack([tone, 0.7 * tone], axis=1), rate)
        paths.append(path)
    return paths


def spawn(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_ready(base: str) -> None:
    for _ in range(240):
        try:
            if requests.get(f"{base}/readyz", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit("gunicorn did not become ready")


def manifest_intake(client: batchclient.BatchClient, tmp: Path, n: int, fmt: str) -> float:
    path = tmp / f"manifest.{fmt}"
    with path.open("w") as out:
        if fmt == "csv":
            out.write("custom_id,url,isrc\n")
        for i in range(n):
            url = f"https://example.com/catalogue/{i:06d}.mp3"
            if fmt == "csv":
                out.write(f"item-{i},{url},USRC{i:07d}\n")
            else:
                out.write(json.dumps({"custom_id": f"item-{i}", "source": {"url": url}}) + "\n")
    start = time.perf_counter()
    batch = client.create_from_manifest(path, uuid.uuid4().hex)
    wall = time.perf_counter() - start
    assert batch["item_count"] == n, batch
    client.cancel(batch["id"])  # nothing of it should run later
    return n / wall


def upload_intake(client: batchclient.BatchClient, tracks: list[Path], parallel: int) -> float:
    folder = tracks[0].parent
    start = time.perf_counter()
    done = batchclient.submit_folder(client, folder, {}, True, parallel, lambda *_: None)
    wall = time.perf_counter() - start
    assert done.sent == len(tracks), done
    client.cancel(done.batch["id"])
    return len(tracks) / wall


def throughput(
    client: batchclient.BatchClient,
    env: dict[str, str],
    folder: Path,
    warmup: Path,
    workers: int,
) -> tuple[float, int]:
    """Items per second through the whole pipeline with ``workers`` processes."""
    procs = [spawn([sys.executable, "-m", "app.cli", "worker"], env) for _ in range(workers)]
    try:
        warm = batchclient.submit_folder(client, warmup, {}, True, 2, lambda *_: None)
        batchclient.wait(client, warm.batch["id"], 0.5, lambda *_: None)
        start = time.perf_counter()
        done = batchclient.submit_folder(client, folder, {}, True, 4, lambda *_: None)
        batch = batchclient.wait(client, done.batch["id"], 0.5, lambda *_: None)
        wall = time.perf_counter() - start
    finally:
        for proc in procs:
            stop(proc)
    return batch["item_count"] / wall, batch["counts"]["succeeded"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest-items", type=int, default=10_000)
    parser.add_argument("--uploads", type=int, default=500)
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each track")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--api-workers", type=int, default=2)
    args = parser.parse_args()
    name = f"soundscape_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    redis_url = claim_redis()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            run(args, Path(tmp_name), database_url, redis_url)
    finally:
        redis.Redis.from_url(redis_url).flushdb()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace, tmp: Path, database_url: str, redis_url: str) -> None:
    env = {
        **os.environ,
        "SOUNDSCAPE_DATABASE_URL": database_url,
        "SOUNDSCAPE_BROKER_URL": redis_url,
        "SOUNDSCAPE_DATA_DIR": str(tmp / "data"),
        "SOUNDSCAPE_DEVICE": "cpu",
        "SOUNDSCAPE_RATE_LIMIT_SUBMISSIONS": "0",  # measure intake, not the limiter
    }
    upgrade(database_url)
    key, port = create_key(database_url, "bench"), 8791
    api = spawn(
        [sys.executable, "-m", "gunicorn", "app.wsgi:app", "-b", f"127.0.0.1:{port}"]
        + ["-w", str(args.api_workers), "--timeout", "600"],
        env,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        client = batchclient.BatchClient(f"http://127.0.0.1:{port}", key)
        print(f"gunicorn workers {args.api_workers}, PostgreSQL, Redis, local artifact folder")
        for fmt in ("jsonl", "csv"):
            rate = manifest_intake(client, tmp, args.manifest_items, fmt)
            print(f"manifest intake ({fmt}, {args.manifest_items} items): {rate:.0f} items/s")
        uploads = write_tracks(tmp / "uploads", args.uploads, args.seconds)
        for parallel in (1, 4):
            rate = upload_intake(client, uploads, parallel)
            print(
                f"upload intake ({args.uploads} files of {args.seconds:g} s FLAC, "
                f"{parallel} at a time): {rate:.1f} items/s"
            )
        folder = write_tracks(tmp / "tracks", args.tracks, args.seconds)[0].parent
        warmup = write_tracks(tmp / "warmup", 2, args.seconds)[0].parent
        for workers in args.workers:
            rate, succeeded = throughput(client, env, folder, warmup, workers)
            print(
                f"end to end ({args.tracks} tracks of {args.seconds:g} s, {workers} worker "
                f"process{'es' if workers > 1 else ''}): {rate:.2f} items/s, "
                f"{rate * args.seconds:.1f} s of audio per s ({succeeded} succeeded)"
            )
    finally:
        stop(api)


if __name__ == "__main__":
    main()
