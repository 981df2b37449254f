"""``soundscape db upgrade|downgrade``: Alembic migrations on the configured database."""

from __future__ import annotations

import argparse

from app.config import load_settings
from app.db import downgrade, upgrade


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("upgrade", help="migrate to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="migrate back to a revision (e.g. -1 or base)")
    down.add_argument("revision")


def run(args: argparse.Namespace) -> int:
    url = load_settings().database_url
    (upgrade if args.action == "upgrade" else downgrade)(url, args.revision)
    return 0
