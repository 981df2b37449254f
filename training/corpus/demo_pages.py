"""Corpora of real generator output (and the references beside it) from public demo pages.

A source list (``training/sources/*.yaml``, reviewed by hand) says which paths of each demo
repository are generated, by which system, and which are real references; this module reads
the files straight from local copies of those repositories (a clone, or a bare snapshot read
with ``git show``), decodes each to FLAC at its own sample rate and channel count (the training
conditions resample later, alike for every item), and writes ``manifest.json``.

Split rule: by song or prompt (the entry's ``group`` pattern), never by file, so that no variant
of one song crosses splits. Within each source, groups are ranked by sha256 of
"<seed>:<source>:<group>"; the group at rank i of n sits at (i + 0.5) / n and goes to ``train``
below TRAIN_SHARE, else ``validation``. Files whose content (sha256) was already taken are
dropped (demo pages repeat files in "selection" folders).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import soundfile as sf
import yaml

from training.corpus.decode import trim_silent_ends
from training.corpus.records import CorpusError, slugify

SOURCES_DIR = Path(__file__).resolve().parents[1] / "sources"
MANIFEST = "manifest.json"
TRAIN, VALIDATION = "train", "validation"
TRAIN_SHARE = 0.7
AI, REAL = "ai", "real"
AUDIO_SUFFIXES = (".wav", ".mp3", ".opus", ".ogg", ".flac", ".m4a")


@dataclass(frozen=True)
class Entry:
    """Paths matching ``glob`` were made by ``generator`` (kind AI) or are real (kind REAL)."""

    glob: str
    generator: str
    kind: str
    group: str


@dataclass(frozen=True)
class Source:
    """One demo repository of a source list."""

    repo: str
    ref: str
    licence: str
    entries: tuple[Entry, ...]
    exclude: tuple[str, ...]

    def classify(self, path: str) -> tuple[Entry, str] | None:
        """The entry deciding ``path`` and the path's group (the pattern's capture groups
        joined by "-"), or None for a file not taken."""
        if any(fnmatch.fnmatchcase(path, pattern) for pattern in self.exclude):
            return None
        for entry in self.entries:
            if fnmatch.fnmatchcase(path, entry.glob):
                found = re.search(entry.group, path)
                if found is None:
                    raise CorpusError(f"{self.repo}: group pattern finds nothing in {path}")
                return entry, "-".join(part for part in found.groups() if part)
        return None


@dataclass(frozen=True)
class DemoRecord:
    """One corpus item; its audio is ``audio/<item_id>.flac`` beside the manifest."""

    item_id: str
    repo: str
    commit: str
    path: str
    generator: str
    kind: str
    licence: str
    group: str
    duration_seconds: float
    sample_rate: int
    channels: int
    sha256: str
    """Of the file as published, before decoding."""
    split: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoRecord:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def load_sources(path: Path) -> list[Source]:
    """The sources of a reviewed source list; CorpusError for a malformed one."""
    try:
        raw = yaml.safe_load(path.read_text())
        return [
            Source(
                repo=str(item["repo"]),
                ref=str(item.get("ref", "HEAD")),
                licence=str(item["licence"]),
                entries=tuple(
                    Entry(str(e["glob"]), str(e["generator"]), _kind(e["kind"]), str(e["group"]))
                    for e in item["entries"]
                ),
                exclude=tuple(str(p) for p in item.get("exclude") or ()),
            )
            for item in raw["sources"]
        ]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise CorpusError(f"source list {path}: {exc}") from exc


def _kind(value: object) -> str:
    if value not in (AI, REAL):
        raise KeyError(f"kind must be {AI!r} or {REAL!r}, not {value!r}")
    return str(value)


def repo_of(git_dir: Path) -> str | None:
    """``owner/name`` of a local copy, from its origin URL or an ``owner+name`` folder name."""
    done = subprocess.run(
        ["git", "-C", str(git_dir), "config", "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    )
    url = done.stdout.strip().removesuffix(".git")
    if url.count("/") >= 1:
        return "/".join(url.replace(":", "/").split("/")[-2:])
    for part in reversed(git_dir.resolve().parts):
        if "+" in part:
            return part.replace("+", "/", 1)
    return None


def match_sources(sources: Sequence[Source], git_dirs: Sequence[Path]) -> dict[str, Path]:
    """Each source's local copy among ``git_dirs``; CorpusError for a copy no source names."""
    by_repo = {source.repo.lower(): source.repo for source in sources}
    found: dict[str, Path] = {}
    for git_dir in git_dirs:
        repo = repo_of(git_dir)
        if repo is None or repo.lower() not in by_repo:
            raise CorpusError(f"{git_dir} is not a copy of a listed source ({', '.join(by_repo)})")
        found[by_repo[repo.lower()]] = git_dir
    return found


def _git(git_dir: Path, *args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(git_dir), *args], capture_output=True, check=False)
    if done.returncode != 0:
        raise CorpusError(f"git {' '.join(args[:2])} in {git_dir}: {done.stderr.decode().strip()}")
    return done.stdout


def source_files(source: Source, git_dir: Path) -> tuple[str, list[tuple[str, Entry, str]]]:
    """The commit read and every (path, entry, group) the source takes from that copy."""
    commit = _git(git_dir, "rev-parse", f"{source.ref}^{{commit}}").decode().strip()
    listing = _git(git_dir, "ls-tree", "-r", "-z", "--name-only", commit).decode()
    taken = []
    for path in sorted(p for p in listing.split("\0") if p.lower().endswith(AUDIO_SUFFIXES)):
        decided = source.classify(path)
        if decided is not None:
            taken.append((path, *decided))
    return commit, taken


def build_demo_corpus(
    source_list: Path,
    git_dirs: Sequence[Path],
    out_dir: Path,
    *,
    seed: int = 0,
    progress: Callable[[str], None] = lambda _: None,
) -> list[DemoRecord]:
    """Decode every file the source list takes from ``git_dirs`` into ``out_dir``; the records.

    A source with no copy among ``git_dirs`` is skipped (reported through ``progress``); a rerun
    decodes only what is missing. A file the copy lists but does not hold (a snapshot may leave
    out its largest blobs) is skipped and reported."""
    sources = load_sources(source_list)
    copies = match_sources(sources, git_dirs)
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    records: list[DemoRecord] = []
    seen: set[str] = set()
    for source in sources:
        if source.repo not in copies:
            progress(f"{source.repo}: no local copy given, skipped")
            continue
        commit, files = source_files(source, copies[source.repo])
        for path, entry, group in files:
            try:
                blob = _git(copies[source.repo], "cat-file", "blob", f"{commit}:{path}")
            except CorpusError:  # a snapshot may list its largest files without their content
                progress(f"{source.repo}: {path} is absent from this copy, skipped")
                continue
            digest = hashlib.sha256(blob).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            item_id = slugify(f"{source.repo.split('/')[0]}-{Path(path).with_suffix('')}")
            record = _decode_item(blob, out_dir / "audio" / f"{item_id}.flac", path)
            records.append(
                DemoRecord(
                    item_id,
                    source.repo,
                    commit,
                    path,
                    entry.generator,
                    entry.kind,
                    source.licence,
                    group,
                    *record,
                    digest,
                    "",
                )
            )
            progress(f"{item_id}: {record[0]:.1f} s")
    records = assign_demo_splits(records, seed)
    write_demo_manifest(out_dir, records)
    return records


def _decode_item(blob: bytes, target: Path, path: str) -> tuple[float, int, int]:
    """Decode a published file to 16-bit FLAC at its own rate and channels; its facts."""
    if not target.exists():
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / f"in{Path(path).suffix}"
            raw.write_bytes(blob)
            partial = target.with_suffix(".partial.flac")
            done = subprocess.run(
                ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-map", "0:a:0"]
                + ["-sample_fmt", "s16", "-c:a", "flac", str(partial)],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise CorpusError(f"ffmpeg cannot decode {path}: {done.stderr.strip()[-200:]}")
            trim_silent_ends(partial)
            partial.replace(target)
    info = sf.info(str(target))
    return float(info.frames) / float(info.samplerate), int(info.samplerate), int(info.channels)


def assign_demo_splits(records: Sequence[DemoRecord], seed: int) -> list[DemoRecord]:
    """Records with their split set by group, per source (the module's split rule)."""
    split_of: dict[tuple[str, str], str] = {}
    for repo in sorted({r.repo for r in records}):
        groups = sorted(
            {r.group for r in records if r.repo == repo},
            key=lambda g: hashlib.sha256(f"{seed}:{repo}:{g}".encode()).hexdigest(),
        )
        for rank, group in enumerate(groups):
            share = (rank + 0.5) / len(groups)
            split_of[(repo, group)] = TRAIN if share < TRAIN_SHARE else VALIDATION
    return [replace(r, split=split_of[(r.repo, r.group)]) for r in records]


def write_demo_manifest(out_dir: Path, records: Sequence[DemoRecord]) -> Path:
    path = out_dir / MANIFEST
    body = {"kind": "demo-pages", "items": [r.to_json() for r in records]}
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n")
    return path


def load_demo_manifest(corpus_dir: Path) -> list[DemoRecord]:
    """The records of a corpus that ``build_demo_corpus`` wrote."""
    path = corpus_dir / MANIFEST
    try:
        body = json.loads(path.read_text())
        return [DemoRecord.from_json(item) for item in body["items"]]
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise CorpusError(f"{path} is not a demo-page corpus manifest: {exc}") from exc
