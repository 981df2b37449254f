"""The ``soundscape`` command: one module per command in this package, imported lazily.

A command module has ``add_arguments(parser)`` and ``run(args) -> int``; it imports worker
code (numpy, torch) only inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Only the module of the command being run is imported (none for the top-level --help), so
# `soundscape db upgrade` in the API image never loads workers, numpy or torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("app.cli.analyze", "run the whole pipeline on a file, no servers needed"),
    "artists": ("app.cli.artists", "the artist gallery: import reference folders, list, remove"),
    "serve": ("app.cli.serve", "run the API and a worker on the embedded default"),
    "worker": ("app.cli.worker", "run a Celery worker"),
    "db": ("app.cli.db", "database migrations"),
    "keys": ("app.cli.keys", "create, list and revoke API keys"),
    "batch": ("app.cli.batch", "submit a folder or manifest as a batch; status, results"),
    "weights": ("app.cli.weights", "list, verify and fetch model weights"),
    "evaluate": ("app.cli.evaluate", "score a labelled data set and print EER/AUC"),
    "data": ("app.cli.data", "build the real-music corpus and evaluation sets of fakes"),
    "train": ("app.cli.train", "train the full-mix synthetic-music detector on a corpus"),
    "make-partial": ("app.cli.make_partial", "write partially synthetic tracks and their regions"),
    "evaluate-localization": (
        "app.cli.evaluate_localization",
        "segment and event F1 of the synthetic regions found in partial fakes",
    ),
    "evaluate-vocal-activity": (
        "app.cli.evaluate_vocal_activity",
        "frame F1 of vocal activity against songs' karaoke note files",
    ),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``selected`` one whose other commands are bare names (with
    ``selected=""`` every command is a bare name: enough for the top-level --help)."""
    parser = argparse.ArgumentParser(
        prog="soundscape", description="SoundScape: scan music for AI deepfakes."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module)
        if selected in (None, name):
            importlib.import_module(module).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else "")
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args.module).run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a CLI user gets one line, never a traceback
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        print(f"soundscape {args.command}: error: {detail}", file=sys.stderr)
        return 1
