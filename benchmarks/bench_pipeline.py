"""Benchmark of the whole analysis pipeline on the CPU default path: seconds of processing
per second of audio, per stage and in total, and peak RSS, for tracks of several lengths.

Each track is the playlist of real recordings that ``bench_separate.py`` plays (different
recordings back to back, then again a semitone lower), written as a 44.1 kHz stereo FLAC
and analysed in a fresh process with ``soundscape analyze``'s own code (``workers.inline``:
the embedded default, every stage in turn through ``execute_stage``), so that its peak RSS
(ru_maxrss: interpreter, libraries, models and audio) is its own. The duration limit is
raised for the run so that a 60-minute track is analysed rather than refused.

    .venv/bin/python benchmarks/bench_pipeline.py --minutes 2 10 --threads 1
    .venv/bin/python benchmarks/bench_pipeline.py --minutes 2 --vocal-detector   # the old default
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _bench_separate() -> Any:
    """benchmarks/bench_separate.py as a module: its playlist and its RSS sampler."""
    spec = importlib.util.spec_from_file_location(
        "bench_separate", ROOT / "benchmarks" / "bench_separate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _playlist(seconds: float) -> Any:
    """bench_separate's playlist mix, (2, n) float32 at 44.1 kHz."""
    module = _bench_separate()
    return module._playlist_mix(seconds), module.SR


def _write_track(seconds: float, folder: Path) -> Path:
    import soundfile as sf

    mix, rate = _playlist(seconds)
    path = folder / f"playlist-{int(seconds)}s.flac"
    sf.write(path, mix.T, rate, subtype="PCM_16")
    return path


def _measure(path: str, seconds: float, threads: int, vocal_detector: bool, queue: Any) -> None:
    sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(threads)
    from app.config import load_settings
    from app.db import session_scope, upgrade
    from app.joboptions import JobOptions
    from app.services.tenants import create_tenant
    from app.tables import ANALYSIS
    from workers.inline import _add_job
    from workers.runner import execute_stage
    from workers.runtime import runtime_from
    from workers.stages import PIPELINES

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        settings = load_settings(
            data_dir=Path(tmp),
            database_url="",
            broker_url="",
            storage_url="",
            max_duration_seconds=seconds + 60.0,
        )
        runtime = runtime_from(settings, None)
        upgrade(settings.database_url)
        job_id = uuid.uuid4()
        with session_scope(settings.database_url) as session:
            tenant_id = create_tenant(session, f"bench-{job_id}")
        _add_job(runtime, tenant_id, job_id, Path(path), ANALYSIS, JobOptions(vocal_detector))
        stages, times, peaks = PIPELINES[ANALYSIS], {}, {}
        sampler_class = _bench_separate().RssSampler
        for stage in stages:
            start = time.perf_counter()
            with sampler_class() as sampler:
                execute_stage(runtime, stage, str(job_id), stages=stages)
            times[stage.name] = time.perf_counter() - start
            peaks[stage.name] = sampler.peak_mb
    queue.put(
        {
            "stages": times,
            "peaks": peaks,
            "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def run_one(path: Path, seconds: float, threads: int, vocal_detector: bool) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(str(path), seconds, threads, vocal_detector, queue))
    proc.start()
    row = dict(queue.get())
    proc.join()
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: one core)"
    )
    parser.add_argument(
        "--vocal-detector", action="store_true", help="also run the speech vocal detector"
    )
    args = parser.parse_args(argv)
    print(f"torch threads {args.threads}; vocal detector {'on' if args.vocal_detector else 'off'}")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-audio-") as tmp:
        for minutes in args.minutes:
            seconds = minutes * 60.0
            path = _write_track(seconds, Path(tmp))
            row = run_one(path, seconds, args.threads, args.vocal_detector)
            path.unlink()
            total = sum(row["stages"].values())
            parts = "  ".join(
                f"{name} {t / seconds:.4f} s/s {row['peaks'][name]:.0f} MB"
                for name, t in row["stages"].items()
            )
            print(
                f"{minutes:5.1f} min: {total / seconds:.4f} s per s of audio "
                f"({seconds / total:.1f}x real time), peak RSS {row['rss_peak_mb']:.0f} MB; "
                f"per stage (time per s of audio, peak RSS): {parts}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
