"""The corpus's records: a track and the file it came from, the kinds and splits, the
manifest beside the audio, the errors of a build and the external tools it runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# The folder of vocal songs inside `<shared>/audio`.
SONGS_FOLDER = "songs"
AUDIO_SUFFIXES = frozenset({".ogg", ".opus", ".mp3", ".wav", ".flac", ".xm", ".it", ".s3m", ".mod"})


MUSIC, OTHER = "music", "other"


SPLITS: tuple[str, ...] = ("train", "validation", "calibration")


MANIFEST = "manifest.json"


REQUIRED_TOOLS = ("apt-get", "dpkg-deb", "ffmpeg", "ffprobe")


class CorpusError(Exception):
    """The corpus could not be built."""


class ToolMissingError(CorpusError):
    def __init__(self, tool: str) -> None:
        super().__init__(f"{tool} is not on PATH; the corpus builder needs it")


class PackageFetchError(CorpusError):
    def __init__(self, package: str, detail: str) -> None:
        super().__init__(f"cannot fetch Debian package {package}: {detail}")


class DecodeError(CorpusError):
    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"ffmpeg cannot decode {path.name}: {detail}")


@dataclass(frozen=True)
class TrackRecord:
    """One corpus track; its audio is `audio/<track_id>.flac` beside the manifest."""

    track_id: str
    source: str
    """"debian:<package>" or "shared"."""
    package_version: str | None
    original_path: str
    """Path inside the package, or the file name in the shared folder."""
    licence: str
    duration_seconds: float
    sha256: str
    """Of the original file, before decoding."""
    has_vocals: bool
    split: str
    kind: str = MUSIC
    """MUSIC, or OTHER for real recordings that are not music (sound effects, speech, nature)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackRecord:
        return cls(
            track_id=str(data["track_id"]),
            source=str(data["source"]),
            package_version=data.get("package_version"),
            original_path=str(data["original_path"]),
            licence=str(data["licence"]),
            duration_seconds=float(data["duration_seconds"]),
            sha256=str(data["sha256"]),
            has_vocals=bool(data["has_vocals"]),
            split=str(data["split"]),
            kind=str(data.get("kind", MUSIC)),
        )


@dataclass(frozen=True)
class SourceFile:
    """A music file found in a source, with its record; the record's split is not set yet."""

    path: Path
    record: TrackRecord


def slugify(text: str) -> str:
    """Lower-case letters, digits and single hyphens: `01 - City Blues` -> `01-city-blues`."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_manifest(out_dir: Path, records: Iterable[TrackRecord]) -> Path:
    """Write `out_dir/manifest.json`, tracks sorted by id."""
    path = out_dir / MANIFEST
    rows = [r.to_json() for r in sorted(records, key=lambda r: r.track_id)]
    path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return path


def load_manifest(corpus_dir: Path) -> list[TrackRecord]:
    """The records of a built corpus."""
    rows = json.loads((corpus_dir / MANIFEST).read_text(encoding="utf-8"))
    return [TrackRecord.from_json(row) for row in rows]


def tracks_in(corpus_dir: Path, split: str) -> list[TrackRecord]:
    """The records of one split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    return [r for r in load_manifest(corpus_dir) if r.split == split]


def require_tools() -> None:
    """Raise `ToolMissingError` for the first missing command-line tool."""
    for tool in REQUIRED_TOOLS:
        if shutil.which(tool) is None:
            raise ToolMissingError(tool)


def run_tool(command: list[str], what: str) -> str:
    """Run an external tool and return its stdout; a failure is a CorpusError quoting stderr."""
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise CorpusError(f"{what} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout
