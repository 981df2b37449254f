"""``soundscape artists import DIR | list | remove NAME``: the artist gallery of a tenant (the
local tenant by default) in the database of SOUNDSCAPE_DATABASE_URL, no server needed.

``import`` takes the layout of the SoundScape research code: DIR holds one folder per artist
(the folder's name is the artist's name) with that artist's reference recordings. Each file
runs through the reference pipeline in this process (ingest, separate, enroll). Files that
are not audio, hold no vocals, or are already enrolled or being enrolled for that artist
(same content hash: the artist service's rule) are skipped with the reason, and the import
goes on; run it again and only what is new or failed before is tried. It ends with one line
per artist of DIR: its enrolment quality and warnings (app.services.enrolment), references
named by their file names.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.services.voiceprints import LOCAL_TENANT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    imp = sub.add_parser("import", help="enrol every artist folder of DIR (folder name = artist)")
    imp.add_argument("dir", type=Path, help="a folder of artist folders of reference recordings")
    listing = sub.add_parser("list", help="the artists of the gallery and their reference counts")
    remove = sub.add_parser("remove", help="remove an artist, its references and their audio")
    remove.add_argument("name", help="the artist's name")
    for command in (imp, listing, remove):
        command.add_argument(
            "--tenant", default=LOCAL_TENANT, help="whose gallery (default: %(default)s)"
        )


@dataclass
class ImportSummary:
    """What an import did: (artist, file, detail) per enrolled and per skipped reference,
    and (artist, warnings, line) per artist of the folder: its enrolment quality once
    imported."""

    enrolled: list[tuple[str, Path, str]] = field(default_factory=list)
    skipped: list[tuple[str, Path, str]] = field(default_factory=list)
    quality: list[tuple[str, int, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        artists = len({artist for artist, _, _ in self.enrolled})
        out = [f"enrolled {len(self.enrolled)} reference(s) of {artists} artist(s)"]
        out += [
            f"  enrolled  {artist}: {path.name} ({detail})"
            for artist, path, detail in self.enrolled
        ]
        out.append(f"skipped {len(self.skipped)} file(s)")
        out += [f"  skipped   {artist}: {path.name}: {why}" for artist, path, why in self.skipped]
        warned = sum(1 for _, warnings, _ in self.quality if warnings)
        out.append(f"enrolment quality of {len(self.quality)} artist(s), {warned} with warnings")
        out += [f"  quality   {artist}: {line}" for artist, _, line in self.quality]
        return out


def run(args: argparse.Namespace) -> int:
    from app.config import load_settings
    from app.db import session_scope, upgrade
    from app.services.tenants import ensure_tenant

    settings = load_settings()
    if args.action == "import" and not args.dir.is_dir():
        raise NotADirectoryError(f"{args.dir} is not a folder of artist folders")
    upgrade(settings.database_url)
    with session_scope(settings.database_url) as session:
        tenant_id = ensure_tenant(session, args.tenant)
    if args.action == "import":
        summary = import_folder(args.dir, settings, tenant_id)
        print("\n".join(summary.lines()))
    elif args.action == "list":
        print(list_artists(settings.database_url, tenant_id))
    else:
        remove_artist(settings, tenant_id, args.name)
        print(f"removed {args.name}")
    return 0


def import_folder(folder: Path, settings: Any, tenant_id: Any) -> ImportSummary:
    """Enrol every reference recording under ``folder``; see the module docstring."""
    import logging

    from tqdm import tqdm

    from workers.runtime import runtime_from

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    runtime = runtime_from(settings)
    summary = ImportSummary()
    entries = sorted(folder.iterdir())
    summary.skipped += [("-", f, "not in an artist folder") for f in entries if f.is_file()]
    artists = {
        a.name: [f for f in sorted(a.rglob("*")) if f.is_file()] for a in entries if a.is_dir()
    }
    with tqdm(total=sum(map(len, artists.values())), unit="file", file=sys.stderr) as bar:
        for artist, files in artists.items():
            created = _find_or_create(runtime.settings.database_url, tenant_id, artist)
            for path in files:
                bar.set_postfix_str(f"{artist}/{path.name}"[:40])
                _import_one(runtime, tenant_id, artist, path, summary)
                bar.update(1)
            if created:
                _drop_if_empty(runtime, tenant_id, artist)
            quality = quality_line(runtime.settings.database_url, tenant_id, artist)
            if quality is not None:
                summary.quality.append((artist, *quality))
    return summary


def quality_line(database_url: str, tenant_id: Any, name: str) -> tuple[int, str] | None:
    """The artist's count of enrolment warnings and its quality in one line ("ok", or the
    warnings), references named by the file they were enrolled from; None when there is no
    such artist."""
    from app.db import session_scope
    from app.jobsource import JobSource
    from app.services import artists
    from app.services.enrolment import artist_quality

    with session_scope(database_url) as session:
        artist = artists.find_artist(session, tenant_id, name)
        if artist is None:
            return None
        quality = artist_quality(session, artist)
        files = {
            str(ref.id): JobSource.from_json(job.source).filename or str(ref.id)
            for ref, job in artists.references(session, artist)
            if job is not None
        }
    figures = f"{quality.references} reference(s), {quality.vocal_seconds:.1f} s of vocals"
    if quality.lowest_pair is not None:
        figures += f", lowest agreement {quality.lowest_pair['similarity']:.2f}"
    if not quality.warnings:
        return 0, f"{figures}: ok"
    said = []
    for warning in quality.warnings:
        message = warning.message
        for reference_id, filename in files.items():
            message = message.replace(f"reference {reference_id}", filename)
            message = message.replace(reference_id, filename)
        said.append(f"{warning.code} ({message})")
    return len(said), f"{figures}: warning: " + "; ".join(said)


def _find_or_create(database_url: str, tenant_id: Any, name: str) -> bool:
    """Make sure the artist exists; True when this call created it."""
    from app.db import session_scope
    from app.services import artists

    with session_scope(database_url) as session:
        if artists.find_artist(session, tenant_id, name) is not None:
            return False
        artists.create_artist(session, tenant_id, name)
        return True


def _drop_if_empty(runtime: Any, tenant_id: Any, name: str) -> None:
    """An artist this import created but could enrol nothing for is not left behind."""
    from app.db import session_scope
    from app.services import artists

    with session_scope(runtime.settings.database_url) as session:
        artist = artists.find_artist(session, tenant_id, name)
        if artist is not None and not artists.references(session, artist):
            artists.delete_artist(session, runtime.storage, artist)


def _import_one(
    runtime: Any, tenant_id: Any, artist: str, path: Path, summary: ImportSummary
) -> None:
    from app.db import session_scope
    from app.errors import Problem
    from app.formats import SNIFF_BYTES, sniff_format
    from app.hashing import sha256_file
    from app.services import artists
    from workers.inline import AnalysisFailed, enroll_file

    try:
        with path.open("rb") as fh:
            sniff_format(fh.read(SNIFF_BYTES))
    except Problem as exc:
        summary.skipped.append((artist, path, f"not audio: {exc.detail}"))
        return
    with session_scope(runtime.settings.database_url) as session:
        found = artists.find_artist(session, tenant_id, artist)
        assert found is not None
        artist_id = found.id
        if artists.duplicate_of(session, found, sha256_file(path)) is not None:
            summary.skipped.append((artist, path, "duplicate: already enrolled"))
            return
    try:
        result = enroll_file(path, runtime, artist_id)
    except AnalysisFailed as exc:
        summary.skipped.append((artist, path, _reason(exc.problem)))
        return
    seconds = result["reference"]["vocal_seconds"]
    summary.enrolled.append((artist, path, f"{seconds:.1f} s of voice"))


def _reason(problem: dict[str, Any]) -> str:
    code = problem.get("code")
    if code == "no_vocals":
        return "no vocals found"
    if code == "duplicate_reference":
        return "duplicate: already enrolled"
    if code in ("not_audio", "unsupported_format", "corrupt_audio", "empty_audio"):
        return f"not audio: {problem.get('detail')}"
    return f"{problem.get('detail')} ({code})"


def list_artists(database_url: str, tenant_id: Any) -> str:
    from app.db import session_scope
    from app.services import artists

    rows, cursor = [], None
    with session_scope(database_url) as session:
        while True:
            page, cursor = artists.list_artists(session, tenant_id, artists.MAX_PAGE, cursor)
            rows += page
            if cursor is None:
                break
    if not rows:
        return "no artists: enrol some with 'soundscape artists import DIR'"
    width = max(len(view.artist.name) for view in rows)
    lines = [f"{'name':<{width}}  references  pending  external_id"]
    for view in rows:
        artist = view.artist
        lines.append(
            f"{artist.name:<{width}}  {view.references:>10}  {view.pending:>7}  "
            f"{artist.external_id or '-'}"
        )
    return "\n".join(lines)


def remove_artist(settings: Any, tenant_id: Any, name: str) -> None:
    from app.db import session_scope
    from app.services import artists
    from app.storage import make_storage

    with session_scope(settings.database_url) as session:
        artist = artists.find_artist(session, tenant_id, name)
        if artist is None:
            raise LookupError(f"no artist named {name!r}")
        artists.delete_artist(session, make_storage(settings), artist)
