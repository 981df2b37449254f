"""``soundscape worker``: a Celery worker for the cpu and/or gpu queues."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queues",
        default="cpu,gpu",
        help="comma-separated (default: cpu,gpu); each comes with its batch queue (cpu-batch...)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="pool processes (default 1; 0: one per CPU core, each computing on one core, "
        "the most tracks per hour)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="compute threads of each pool process (default 0: the cores / the processes)",
    )
    parser.add_argument(
        "--beat",
        action="store_true",
        help="also run the periodic reaper (exactly one worker should)",
    )
    parser.add_argument("--loglevel", default="INFO")


def split_cores(concurrency: int, threads: int, cores: int | None) -> tuple[int, int]:
    """(pool processes, compute threads per process): 0 for either takes the cores, one
    process per core with one thread each, or the cores divided among the processes."""
    cores = max(1, cores or 1)
    processes = concurrency if concurrency > 0 else cores
    return processes, threads if threads > 0 else max(1, cores // processes)


def run(args: argparse.Namespace) -> int:
    import os

    processes, threads = split_cores(args.concurrency, args.threads, os.cpu_count())
    # Before numpy and torch load: their thread pools read these once (a pool process
    # inherits them); a value the deployment set is kept.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))

    from app.config import load_settings
    from app.queue import worker_queues
    from workers.celery_app import app

    app.conf.soundscape_torch_threads = threads

    load_settings().data_dir.mkdir(parents=True, exist_ok=True)  # scratch and beat schedule

    argv = [
        "worker",
        "-Q",
        ",".join(worker_queues(args.queues.split(","))),
        "-c",
        str(processes),
        "-l",
        args.loglevel,
        "--without-gossip",
        "--without-mingle",
    ]
    if args.beat:
        argv.append("--beat")
    app.worker_main(argv)
    return 0
