"""``soundscape weights``: list every model's weights and their state; fetch what is missing.

``soundscape weights`` (or ``weights list``) prints one row per manifest entry: name, role,
default, licence, whether the file is present, whether it verifies, and its path.
``soundscape weights fetch [NAME ...]`` downloads missing or failing files (all of them
when no name is given) into SOUNDSCAPE_WEIGHTS_DIR, else weights/, each via a temporary
file that is checked against the manifest before it is renamed into place. A model whose
manifest entry has no direct ``url`` is not requested: one line says to download it by
hand from its ``homepage``.

Imports no torch: listing and fetching are file operations.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from app.config import load_settings
from app.errors import WeightsChecksumError
from workers.networks.weights import (
    BUNDLED_DIR,
    CONNECT_TIMEOUT_S,
    MANIFEST_PATH,
    ModelEntry,
    WeightsDownloadError,
    candidate_paths,
    download,
    load_manifest,
    verify_file,
)


@dataclass(frozen=True)
class WeightsState:
    """Where a model's file is (or would be looked for first, when absent) and its state."""

    entry: ModelEntry
    path: Path
    present: bool
    verified: bool


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=("list", "fetch"),
        default="list",
        help="list (default) or fetch missing weights",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="models to fetch (default: every model whose file is missing)",
    )
    parser.add_argument(
        "--manifest",
        type=Path,
        default=MANIFEST_PATH,
        help="manifest to read (default: weights/manifest.yaml)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=CONNECT_TIMEOUT_S,
        help="seconds to wait for a connection (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    weights_dir = load_settings().weights_dir
    manifest = load_manifest(args.manifest)
    if args.action == "list":
        if args.names:
            print("soundscape weights: names are only used with 'fetch'")
            return 2
        print(format_table([inspect(entry, weights_dir) for entry in manifest.values()]))
        return 0
    unknown = sorted(set(args.names) - set(manifest))
    if unknown:
        print(f"soundscape weights: unknown model(s): {', '.join(unknown)}")
        return 2
    names = args.names or list(manifest)
    return fetch([manifest[name] for name in names], weights_dir, args.timeout)


def inspect(entry: ModelEntry, weights_dir: Path | None) -> WeightsState:
    """The first file found in resolution order, and whether it matches the manifest."""
    for path in candidate_paths(entry, weights_dir):
        if path.is_file():
            try:
                verify_file(entry, path)
            except WeightsChecksumError:
                return WeightsState(entry, path, present=True, verified=False)
            return WeightsState(entry, path, present=True, verified=True)
    return WeightsState(entry, candidate_paths(entry, weights_dir)[0], False, False)


def fetch(entries: list[ModelEntry], weights_dir: Path | None, timeout: float) -> int:
    """Download each entry that is missing or fails verification; 1 if any download failed."""
    target_dir = weights_dir or BUNDLED_DIR
    failed = 0
    for entry in entries:
        state = inspect(entry, weights_dir)
        if state.verified:
            print(f"{entry.name}: present and verified at {state.path}")
            continue
        if not entry.url:
            print(
                f"{entry.name}: no direct download address; download it by hand from "
                f"{entry.source} to {Path(target_dir) / entry.file}"
            )
            failed += 1
            continue
        try:
            path = download(entry, target_dir, timeout=timeout)
        except (WeightsDownloadError, WeightsChecksumError) as exc:
            print(f"{entry.name}: {exc.detail}")
            failed += 1
            continue
        print(f"{entry.name}: downloaded and verified to {path}")
    return 1 if failed else 0


def format_table(states: list[WeightsState]) -> str:
    """Fixed-width text table, one row per model."""
    header = ("NAME", "ROLE", "DEFAULT", "LICENCE", "PRESENT", "VERIFIED", "PATH")
    rows = [header] + [
        (
            s.entry.name,
            s.entry.role,
            "yes" if s.entry.default else "no",
            # Long licence notes ("unknown (no licence file...)") keep their first word here;
            # the manifest holds the whole note.
            s.entry.licence.split(" (", 1)[0],
            "yes" if s.present else "no",
            "yes" if s.verified else "no",
            str(s.path),
        )
        for s in states
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    )
