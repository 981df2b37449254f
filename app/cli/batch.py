"""``soundscape batch submit|status|results|cancel``: catalogue scans from the command line,
against any SoundScape server (``soundscape serve`` or the production stack)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from app.cli.batchclient import BatchClient


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    submit = sub.add_parser(
        "submit", help="upload a folder's files, or send a CSV/JSONL manifest, as one batch"
    )
    submit.add_argument("path", type=Path, help="a folder, or a .csv/.jsonl manifest")
    submit.add_argument("--wait", action="store_true", help="poll until the batch ends")
    submit.add_argument(
        "--results", type=Path, help="write the results JSONL here (implies --wait)"
    )
    submit.add_argument("--webhook-url", help="POST batch.completed here when it ends")
    submit.add_argument("--parallel", type=int, default=4, help="uploads at once (default 4)")
    submit.add_argument("--new", action="store_true", help="a fresh batch, do not resume")
    submit.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    status = sub.add_parser("status", help="a batch's status and counts (JSON)")
    status.add_argument("batch_id")
    results = sub.add_parser("results", help="stream a batch's results (JSONL or CSV)")
    results.add_argument("batch_id")
    results.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    results.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    cancel = sub.add_parser("cancel", help="cancel a batch's items not yet finished")
    cancel.add_argument("batch_id")
    for command in (submit, status, results, cancel):
        command.add_argument("--server", default="http://127.0.0.1:8000", help="API address")
        command.add_argument("--key", required=True, help="API key (soundscape keys create)")


def run(args: argparse.Namespace) -> int:
    from app.cli.batchclient import BatchClient

    client = BatchClient(args.server, args.key)
    if args.action == "submit":
        return _submit(client, args)
    if args.action == "results":
        if args.out is None:
            client.results(args.batch_id, args.format, sys.stdout.buffer)
        else:
            with args.out.open("wb") as out:
                client.results(args.batch_id, args.format, out)
        return 0
    answer = client.get(args.batch_id) if args.action == "status" else client.cancel(args.batch_id)
    print(json.dumps(answer, indent=2))
    return 0


def _submit(client: BatchClient, args: argparse.Namespace) -> int:
    from app.cli import batchclient
    from app.cli.progress import Progress

    path: Path = args.path
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    body = {"webhook_url": args.webhook_url} if args.webhook_url else {}
    if path.is_dir():
        with Progress("upload", "files") as bar:
            done = batchclient.submit_folder(client, path, body, args.new, args.parallel, bar)
    else:
        if body:
            raise ValueError(
                "--webhook-url goes with folders; put it in the request for a manifest"
            )
        with Progress("send", "bytes") as bar:
            done = batchclient.submit_manifest(client, path, args.new, bar)
    for warning in done.warnings:
        print(f"soundscape batch: warning: {warning}", file=sys.stderr)
    batch = done.batch
    print(
        f"batch {batch['id']}: {batch['item_count']} items ({done.sent} sent now, "
        f"{done.skipped} already there, {done.refused} refused at submit)",
        file=sys.stderr,
    )
    if args.wait or args.results:
        with Progress("process", "items") as bar:
            batch = batchclient.wait(client, batch["id"], args.interval, bar)
    if args.results:
        with args.results.open("wb") as out:
            client.results(batch["id"], "jsonl", out)
    _summary(batch, args.results, sys.stdout)
    return 0


def _summary(batch: dict[str, object], results: Path | None, out: IO[str]) -> None:
    counts = batch.get("counts") or {}
    assert isinstance(counts, dict)
    shown = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    print(f"{batch['id']} {batch['status']}: {shown or 'no items'}", file=out)
    if results is not None:
        print(f"results: {results}", file=out)
