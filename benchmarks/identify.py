"""Artist identification speed: matching latency against galleries of 100, 10,000 and 100,000
artists, loading a gallery from the database (cold, and after one change), and embedding speed.

- match: ``match_voice`` of one track (its voice and SECTIONS section embeddings) against a
  cached gallery of random unit vectors (256 dimensions, float32): the one matrix product, the
  top-k and the per-section matches; median of repeated runs.
- load: a worker's first ``load_gallery`` of a tenant (every voiceprint read and stacked), and
  its refresh after one artist changed (the version read, the changed row, the list of ids),
  on the embedded SQLite database or ``--database-url`` (e.g. the test PostgreSQL).
- embed: ``embed_vocals`` on a 60 s mono speech stem (a LibriSpeech reading looped, all of it
  vocal-active): seconds of audio embedded per second (median of REPEATS runs), on ``--device``.

Usage:
    .venv/bin/python benchmarks/identify.py [--sizes 100 10000 100000] [--load-sizes 100 10000]
        [--database-url URL] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DIM = 256
REPEATS = 5
SECTIONS = 12  # a three-minute track in 15 s sections
SPEECH = Path(__file__).resolve().parent.parent.parent / "shared" / "audio" / "198-209-0000.ogg"


def random_units(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_match(size: int) -> tuple[float, float]:
    """Median seconds of one identification against ``size`` artists, and the matrix's MB."""
    from workers.compute.identification import Gallery, Section, VoiceEmbedding, match_voice

    gallery = Gallery(
        tuple(str(i) for i in range(size)),
        tuple(f"artist {i}" for i in range(size)),
        random_units(size, 1),
    )
    queries = random_units(SECTIONS + 1, 2)
    voice = VoiceEmbedding(
        queries[0],
        tuple(Section(15.0 * i, 15.0 * (i + 1), q, 18) for i, q in enumerate(queries[1:])),
        18 * SECTIONS,
        180.0,
    )
    match_voice(voice, gallery, 0.86)  # warm-up
    runs = max(5, min(200, int(2e6 / size)))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        match_voice(voice, gallery, 0.86)
        times.append(time.perf_counter() - start)
    return statistics.median(times), gallery.matrix.nbytes / 2**20


def bench_load(size: int, database_url: str) -> tuple[float, float]:
    """Seconds of a cold gallery load and of the refresh after one changed artist."""
    from sqlalchemy import insert

    from app.db import session_scope, upgrade
    from app.services.voiceprints import bump_version
    from app.tables import Artist, Tenant
    from workers.gallery_cache import clear_cache, load_gallery
    from workers.runtime import GalleryRef

    upgrade(database_url)
    vectors = random_units(size, 3)
    with session_scope(database_url) as session:
        tenant = Tenant(name=f"bench-{uuid.uuid4()}")
        session.add(tenant)
        session.flush()
        tenant_id = tenant.id
        version = bump_version(session, tenant_id)
        for first in range(0, size, 5000):
            rows = [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "name": f"artist {i}",
                    "voiceprint": vectors[i].tolist(),
                    "revision": version,
                }
                for i in range(first, min(size, first + 5000))
            ]
            session.execute(insert(Artist), rows)
    ref = GalleryRef(database_url, tenant_id)
    clear_cache()
    start = time.perf_counter()
    assert len(load_gallery(ref)) == size
    cold = time.perf_counter() - start
    with session_scope(database_url) as session:
        session.add(
            Artist(
                tenant_id=tenant_id,
                name="new",
                voiceprint=vectors[0].tolist(),
                revision=bump_version(session, tenant_id),
            )
        )
    start = time.perf_counter()
    assert len(load_gallery(ref)) == size + 1
    return cold, time.perf_counter() - start


def bench_embed(device: str, seconds: float = 60.0) -> float:
    """Seconds of audio embedded per second of wall time."""
    from workers.compute.audio import decode_file
    from workers.compute.identification import embed_vocals
    from workers.networks.registry import load_model

    encoder = load_model("speaker-encoder", "resemblyzer-ge2e", None, device)
    if SPEECH.is_file():
        speech = decode_file(SPEECH, 16000, 1)[0]
    else:  # without ../shared: noise, which costs the encoder the same
        speech = np.random.default_rng(0).normal(0, 0.1, 16000 * 10).astype(np.float32)
    stem = np.tile(speech, int(np.ceil(seconds * 16000 / len(speech))))[: int(seconds * 16000)]
    embed_vocals(stem[: 16000 * 5], 16000, encoder)  # warm-up
    times = []
    for _ in range(REPEATS):  # the median: the machine is shared
        start = time.perf_counter()
        embed_vocals(stem, 16000, encoder)
        times.append(time.perf_counter() - start)
    return seconds / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    parser.add_argument("--load-sizes", type=int, nargs="*", default=[100, 10_000])
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    import torch

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.get_num_threads()} threads, numpy {np.__version__}"
    )
    print(f"match: one track, 1 + {SECTIONS} embeddings of {DIM} dims against the gallery")
    for size in args.sizes:
        seconds, megabytes = bench_match(size)
        print(f"  {size:>7} artists  {seconds * 1e3:8.2f} ms  (gallery matrix {megabytes:.1f} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        print(f"load: {url.split('://')[0]}")
        for size in args.load_sizes:
            cold, refresh = bench_load(size, url)
            print(f"  {size:>7} artists  cold {cold:7.3f} s  after one change {refresh:7.3f} s")
    print(f"embed: {bench_embed(args.device):.1f} s of audio per second ({args.device})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
