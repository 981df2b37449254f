"""Debian game-music packages as a source of real music: `apt-get download` (no root) and
`dpkg-deb -x` (installs nothing), then the audio files inside with their licences."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.hashing import sha256_file
from training.corpus.licences import licence_for
from training.corpus.records import (
    AUDIO_SUFFIXES,
    PackageFetchError,
    SourceFile,
    TrackRecord,
    run_tool,
    slugify,
)

DEFAULT_PACKAGES: tuple[str, ...] = (
    "wesnoth-1.16-music",
    "warzone2100-music",
    "frozen-bubble-data",
    "lincity-ng-data",
    "extremetuxracer-data",
    "pingus-data",
    "xmoto-data",
)


def fetch_package(package: str, debs_dir: Path) -> Path:
    """The package's .deb in `debs_dir`, downloaded with `apt-get download` unless present."""
    debs_dir.mkdir(parents=True, exist_ok=True)
    kept = sorted(debs_dir.glob(f"{package}_*.deb"))
    if kept:
        return kept[-1]
    done = subprocess.run(
        ["apt-get", "download", package], cwd=debs_dir, capture_output=True, text=True, check=False
    )
    kept = sorted(debs_dir.glob(f"{package}_*.deb"))
    if done.returncode != 0 or not kept:
        errors = [line for line in done.stderr.splitlines() if line.startswith("E:")]
        raise PackageFetchError(package, (errors or [f"apt-get exit {done.returncode}"])[-1])
    return kept[-1]


def find_package_music(deb: Path, unpack_dir: Path) -> list[SourceFile]:
    """Unpack `deb` into `unpack_dir` and describe every audio file outside the docs."""
    package, version = _deb_field(deb, "Package"), _deb_field(deb, "Version")
    run_tool(["dpkg-deb", "-x", str(deb), str(unpack_dir)], f"dpkg-deb -x {deb.name}")
    copyright_file = unpack_dir / "usr/share/doc" / package / "copyright"
    copyright_text = copyright_file.read_text(encoding="utf-8", errors="replace")
    paths = sorted(
        p
        for p in unpack_dir.rglob("*")
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file() and "usr/share/doc" not in str(p)
    )
    found, taken = [], set()
    for path in paths:
        name = slugify(path.stem)
        if name in taken:  # the same stem in two folders: name it by its folder too
            name = f"{slugify(path.parent.name)}-{name}"
        taken.add(name)
        inside = path.relative_to(unpack_dir).as_posix()
        record = TrackRecord(
            track_id=f"{package}--{name}",
            source=f"debian:{package}",
            package_version=version,
            original_path=inside,
            licence=licence_for(copyright_text, inside),
            duration_seconds=0.0,
            sha256=sha256_file(path),
            has_vocals=False,
            split="",
        )
        found.append(SourceFile(path, record))
    return found


def _deb_field(deb: Path, field: str) -> str:
    return run_tool(["dpkg-deb", "-f", str(deb), field], f"dpkg-deb -f {deb.name}").strip()
