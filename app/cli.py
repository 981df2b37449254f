"""The ``soundscape`` command: a thin adapter; worker-side commands import workers lazily."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each command lives in its own module with add_arguments(parser) and run(args) -> int.
# Only the module of the command being run is imported (all of them for the top-level
# --help), so `soundscape db upgrade` in the API image never loads workers, numpy or torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("workers.analyze_cli", "run the whole pipeline on a file, no servers needed"),
    "serve": ("app.serve_cli", "run the API and a worker on the embedded default"),
    "worker": ("app.worker_cli", "run a Celery worker"),
    "db": ("app.db_cli", "database migrations"),
    "keys": ("app.keys_cli", "create API keys for tenants"),
    "weights": ("workers.weights_cli", "list, verify and fetch model weights"),
    "evaluate": ("workers.evaluate_cli", "score a labelled data set and print EER/AUC"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with ``selected`` one whose other commands are bare names."""
    parser = argparse.ArgumentParser(
        prog="soundscape", description="SoundScape: scan music for AI deepfakes.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(module=module)
        if selected in (None, name):
            importlib.import_module(module).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args.module).run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - a CLI user gets one line, never a traceback
        detail = getattr(exc, "detail", None) or str(exc) or type(exc).__name__
        print(f"soundscape {args.command}: error: {detail}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
