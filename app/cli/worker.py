"""``soundscape worker``: a Celery worker for the cpu and/or gpu queues."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queues",
        default="cpu,gpu",
        help="comma-separated (default: cpu,gpu); each comes with its batch queue (cpu-batch...)",
    )
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--beat",
        action="store_true",
        help="also run the periodic reaper (exactly one worker should)",
    )
    parser.add_argument("--loglevel", default="INFO")


def run(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from app.queue import worker_queues
    from workers.celery_app import app

    load_settings().data_dir.mkdir(parents=True, exist_ok=True)  # scratch and beat schedule

    argv = [
        "worker",
        "-Q",
        ",".join(worker_queues(args.queues.split(","))),
        "-c",
        str(args.concurrency),
        "-l",
        args.loglevel,
        "--without-gossip",
        "--without-mingle",
    ]
    if args.beat:
        argv.append("--beat")
    app.worker_main(argv)
    return 0
