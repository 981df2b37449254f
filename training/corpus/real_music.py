"""Reproducible corpus of real, human-made music recorded before AI music generators existed.

Sources: the soundtracks of Debian game-music packages (fetched with `apt-get download`, which
needs no root, and unpacked with `dpkg-deb -x`, which installs nothing) and the music in the
project's shared folder. Files of at least `MIN_MUSIC_SECONDS` are music (`kind` "music");
shorter ones down to `MIN_OTHER_SECONDS` are the packages' recorded and synthesised sound
effects (`kind` "other"): real, human-made audio that is not music, so that the detector learns
that sparse, quiet or band-limited content is not a decoder artefact. The speech, bird and whale
recordings of the shared folder are kind "other" too. Files whose content (sha256) was already
taken are dropped. Every kept track is decoded to
44.1 kHz stereo 16-bit FLAC as `DIR/audio/<track_id>.flac`; `DIR/manifest.json` lists one
`TrackRecord` per track and `DIR/debs/` keeps the downloaded packages, so a rerun downloads and
decodes nothing it already has.

Split rule, by track, deterministic from `seed`:

- Debian tracks, package by package and kind by kind: rank the package's tracks by sha256 of
  "<seed>:<track_id>"; the track at rank i of n sits at (i + 0.5) / n and goes to `train` below
  0.55, `validation` below 0.70, else `calibration`. Stratifying by package keeps every
  soundtrack near 55 / 15 / 30 % (a plain per-track hash left validation at 9 % of the hours);
  the price is that adding a track to a package can move others of that package.
- Shared vocal songs from `songs/` (the precious false-positive set), ranked by the same hash:
  the first goes to `validation`; of the rest, the first Jonathan Coulton song and the first
  song by anyone else go to `train`; all others (at least 5 of 8) go to `calibration`.
- Other shared vocal music (Karissa Hobbs) goes to `calibration`.
- Shared recordings that are not music (speech, bird, whale) go to `calibration`: held out
  from training, they measure false positives on content the detector never learned from.
- Shared instrumentals, ranked by the hash: every third from the first goes to `validation`,
  the others to `calibration`.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from app.hashing import sha256_file

DEFAULT_PACKAGES: tuple[str, ...] = (
    "wesnoth-1.16-music",
    "warzone2100-music",
    "frozen-bubble-data",
    "lincity-ng-data",
    "extremetuxracer-data",
    "pingus-data",
    "xmoto-data",
)
SHARED_MUSIC: tuple[str, ...] = (
    "Karissa_Hobbs_-_Lets_Go_Fishin.ogg",
    "Kevin_MacLeod_-_Vibe_Ace.ogg",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg",
    "sorohanro_-_solo-trumpet-06.ogg",
)
"""Music in `<shared>/audio`; the speech, bird and whale recordings there are not music."""
SHARED_OTHER: tuple[str, ...] = (
    "198-209-0000.ogg",
    "3436-172162-0000.ogg",
    "5703-47212-0000.ogg",
    "456440__inspectorj__bird-whistling-robin-single-13.ogg",
    "glacier-bay-humpback.ogg",
)
"""Real recordings in `<shared>/audio` that are not music: LibriSpeech speech, a bird, a whale."""
SHARED_VOCAL_MUSIC = frozenset({"Karissa_Hobbs_-_Lets_Go_Fishin.ogg"})
SONGS_FOLDER = "songs"
AUDIO_SUFFIXES = frozenset({".ogg", ".opus", ".mp3", ".wav", ".flac", ".xm", ".it", ".s3m", ".mod"})
MIN_MUSIC_SECONDS = 30.0
MIN_OTHER_SECONDS = 2.0
MUSIC, OTHER = "music", "other"
SPLITS: tuple[str, ...] = ("train", "validation", "calibration")
DEBIAN_SPLIT_BOUNDS: tuple[tuple[float, str], ...] = ((0.55, "train"), (0.70, "validation"))
MANIFEST = "manifest.json"
OUTPUT_RATE = 44100
# Digital silence: 16-bit samples at most this far from zero (about -80 dBFS), cut from either
# end of a decoded file when at least MIN_SILENT_END_SECONDS of it lie there.
SILENCE_LEVEL = 3
MIN_SILENT_END_SECONDS = 1.0
REQUIRED_TOOLS = ("apt-get", "dpkg-deb", "ffmpeg", "ffprobe")
Progress = Callable[[str], None]


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


def hash_fraction(seed: int, track_id: str) -> float:
    """A stable number in [0, 1) from the seed and the track id."""
    digest = hashlib.sha256(f"{seed}:{track_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(records: Sequence[TrackRecord], seed: int) -> list[TrackRecord]:
    """The records with `split` set by the rule in this module's docstring, in input order."""
    split_of: dict[str, str] = {}
    groups = {(r.source, r.kind) for r in records if r.source.startswith("debian:")}
    for source, kind in groups:
        package = sorted(
            (r.track_id for r in records if r.source == source and r.kind == kind),
            key=lambda track_id: hash_fraction(seed, track_id),
        )
        for rank, track_id in enumerate(package):
            position = (rank + 0.5) / len(package)
            split_of[track_id] = next(
                (name for bound, name in DEBIAN_SPLIT_BOUNDS if position < bound), "calibration"
            )
    for record in records:
        if record.source == "shared" and record.kind == OTHER:
            split_of[record.track_id] = "calibration"
    ranked = sorted(
        (r for r in records if r.source == "shared" and r.kind == MUSIC),
        key=lambda r: hash_fraction(seed, r.track_id),
    )
    songs = [r for r in ranked if r.has_vocals and _is_song(r)]
    for record in songs[1:]:
        split_of[record.track_id] = "calibration"
    if songs:
        split_of[songs[0].track_id] = "validation"
    for is_coulton in (True, False):
        first = next((r for r in songs[1:] if _is_coulton(r) is is_coulton), None)
        if first is not None:
            split_of[first.track_id] = "train"
    for record in ranked:
        if record.has_vocals and not _is_song(record):
            split_of[record.track_id] = "calibration"
    instrumentals = [r for r in ranked if not r.has_vocals]
    for index, record in enumerate(instrumentals):
        split_of[record.track_id] = "validation" if index % 3 == 0 else "calibration"
    return [replace(record, split=split_of[record.track_id]) for record in records]


def _is_song(record: TrackRecord) -> bool:
    return record.original_path.startswith(f"{SONGS_FOLDER}/")


def _is_coulton(record: TrackRecord) -> bool:
    return "jonathan_coulton" in record.original_path.lower()


def find_shared_music(shared_dir: Path) -> list[SourceFile]:
    """The music in `<shared_dir>/audio`, every song in `<shared_dir>/audio/songs`, and the
    recordings there that are not music (kind OTHER)."""
    audio = shared_dir / "audio"
    songs = sorted(p for p in (audio / SONGS_FOLDER).iterdir() if p.suffix in AUDIO_SUFFIXES)
    named = SHARED_MUSIC + SHARED_OTHER
    paths = [audio / name for name in named if (audio / name).is_file()] + songs
    found = []
    for path in paths:
        name = path.relative_to(audio).as_posix()
        vocals = name in SHARED_VOCAL_MUSIC or (
            name.startswith(f"{SONGS_FOLDER}/") and "instrumental" not in name.lower()
        )
        record = TrackRecord(
            track_id=f"shared--{slugify(path.stem)}",
            source="shared",
            package_version=None,
            original_path=name,
            licence=shared_licence(path),
            duration_seconds=0.0,
            sha256=sha256_file(path),
            has_vocals=vocals,
            split="",
            kind=OTHER if name in SHARED_OTHER else MUSIC,
        )
        found.append(SourceFile(path, record))
    return found


def shared_licence(path: Path) -> str:
    """The licence named in the `.txt` or `.license.txt` beside a shared file."""
    note = _licence_note(path)
    if note is None:
        return "unknown"
    return licence_from_text(note.read_text(encoding="utf-8", errors="replace"))


def _licence_note(path: Path) -> Path | None:
    for candidate in (path.with_suffix(".txt"), path.with_suffix(".license.txt")):
        if candidate.is_file():
            return candidate
    # "X_instrumental.mp3" shares "X.license.txt" with its vocal version.
    notes = sorted(path.parent.glob("*.license.txt"), key=lambda p: -len(p.name))
    return next(
        (n for n in notes if path.name.startswith(n.name.removesuffix(".license.txt"))), None
    )


def build_corpus(
    out_dir: Path,
    shared_dir: Path,
    packages: Sequence[str] = DEFAULT_PACKAGES,
    seed: int = 0,
    progress: Progress | None = None,
) -> list[TrackRecord]:
    """Fetch, pick, decode and split the corpus into `out_dir`; returns the manifest's records."""
    say = progress or (lambda _message: None)
    require_tools()
    (out_dir / "audio").mkdir(parents=True, exist_ok=True)
    records: list[TrackRecord] = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="soundscape-corpus-") as scratch:
        for package in packages:
            deb = fetch_package(package, out_dir / "debs")
            say(f"{package}: unpacking {deb.name}")
            found = find_package_music(deb, Path(scratch) / package)
            records += _decode_new(found, out_dir, seen, say)
        records += _decode_new(find_shared_music(shared_dir), out_dir, seen, say)
    records = assign_splits(records, seed)
    write_manifest(out_dir, records)
    return records


def _decode_new(
    found: Iterable[SourceFile], out_dir: Path, seen: set[str], say: Progress
) -> list[TrackRecord]:
    """Decode the files not yet seen and long enough to be music, or kept as other real audio
    (shared recordings always; package files from MIN_OTHER_SECONDS); returns their records."""
    fresh = []
    for source in found:
        if source.record.sha256 in seen:
            say(f"skip duplicate {source.record.original_path}")
            continue
        duration = probe_duration(source.path)
        shared = source.record.source == "shared"
        if duration is None or (duration < MIN_OTHER_SECONDS and not shared):
            continue
        seen.add(source.record.sha256)
        if duration < MIN_MUSIC_SECONDS and not shared:
            source = SourceFile(source.path, replace(source.record, kind=OTHER))
        fresh.append(source)

    def decode(source: SourceFile) -> TrackRecord:
        target = out_dir / "audio" / f"{source.record.track_id}.flac"
        seconds = decode_to_flac(source.path, target)
        say(f"{source.record.track_id}: {seconds:.0f} s")
        return replace(source.record, duration_seconds=round(seconds, 3))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(decode, fresh))


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
    _run(["dpkg-deb", "-x", str(deb), str(unpack_dir)], f"dpkg-deb -x {deb.name}")
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
    return _run(["dpkg-deb", "-f", str(deb), field], f"dpkg-deb -f {deb.name}").strip()


def licence_for(copyright_text: str, path_in_package: str) -> str:
    """The licence of one file from a Debian copyright file.

    A machine-readable (DEP-5) file's stanzas name source-tree paths; the last stanza with a
    pattern matching the installed path or one of its tails (`data/music/*` matches
    `usr/share/games/x/data/music/a.ogg`) wins. Other files give their package-level licence.
    """
    stanzas = [s for s in re.split(r"\n\s*\n", copyright_text) if s.strip()]
    if not stanzas or not stanzas[0].startswith("Format:"):
        return licence_from_text(copyright_text)
    parts = path_in_package.split("/")
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    licence = "unknown"
    for stanza in stanzas[1:]:
        fields = _dep5_fields(stanza)
        patterns = fields.get("Files", "").split()
        if any(fnmatch.fnmatchcase(t, p) for p in patterns for t in tails) and "License" in fields:
            licence = fields["License"].splitlines()[0].strip()
    return licence


def _dep5_fields(stanza: str) -> dict[str, str]:
    """Field name to value; continuation lines (leading space) join their field."""
    fields: dict[str, str] = {}
    name = ""
    for line in stanza.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += "\n" + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            fields[name] = value.strip()
    return fields


def licence_from_text(text: str) -> str:
    """A short licence name from free text: a Creative Commons URL, the GPL wording, or a
    `License:` line."""
    flat = " ".join(text.split())
    cc = re.search(r"creativecommons\.org/(licenses|publicdomain)/([a-z-]+)/(\d\.\d)?", flat)
    if cc:
        kind, terms, version = cc.groups()
        if kind == "publicdomain":
            return "CC0-1.0" if terms == "zero" else "public-domain"
        return f"CC-{terms.upper()}" + (f"-{version}" if version else "")
    gpl = re.search(r"(Lesser |Library )?General Public License.{0,120}?version (\d)", flat)
    if gpl:
        name = "LGPL" if gpl.group(1) else "GPL"
        later = "+" if re.search(r"any later version", flat) else ""
        return f"{name}-{gpl.group(2)}{later}"
    if re.search(r"\bpublic domain\b", flat, re.IGNORECASE):
        return "public-domain"
    line = re.search(r"^Licen[cs]e:[ \t]*(\S.*)$", text, re.MULTILINE)
    return line.group(1).strip() if line else "unknown"


def probe_duration(path: Path) -> float | None:
    """Duration in seconds as ffprobe reads it, or None where ffmpeg cannot decode the file."""
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return float(done.stdout.strip())
    except ValueError:
        return None


def decode_to_flac(source: Path, target: Path) -> float:
    """Decode `source` to 44.1 kHz stereo 16-bit FLAC at `target` unless it exists; seconds.

    Digital silence at either end (tracker modules render their pattern gaps and an empty
    tail) is cut off, so that no excerpt of a music track is silence; a file that is silence
    throughout is kept whole."""
    if not target.exists():
        partial = target.with_suffix(".partial.flac")
        _run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-map", "0:a:0"]
            + ["-af", f"aresample={OUTPUT_RATE}:resampler=soxr", "-ac", "2"]
            + ["-sample_fmt", "s16", "-c:a", "flac", str(partial)],
            f"ffmpeg decode {source.name}",
        )
        trim_silent_ends(partial)
        partial.replace(target)
    else:  # decoded by an earlier run, perhaps by a builder that did not trim yet
        trim_silent_ends(target, partial=target.with_suffix(".partial.flac"))
    info = sf.info(str(target))
    return float(info.frames) / float(info.samplerate)


def trim_silent_ends(path: Path, partial: Path | None = None) -> None:
    """Rewrite the FLAC at ``path`` without its leading and trailing digital silence (samples
    below SILENCE_LEVEL) when that is at least MIN_SILENT_END_SECONDS; silence throughout stays.
    With ``partial``, the trimmed audio is written there first and then replaces ``path``."""
    audio, rate = sf.read(str(path), dtype="int16", always_2d=True)
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)).max(axis=1) > SILENCE_LEVEL)
    if loud.size == 0:
        return
    first, last = int(loud[0]), int(loud[-1]) + 1
    if first + (audio.shape[0] - last) < MIN_SILENT_END_SECONDS * rate:
        return
    sf.write(str(partial or path), audio[first:last], rate, format="FLAC", subtype="PCM_16")
    if partial is not None:
        partial.replace(path)


def _run(command: list[str], what: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise CorpusError(f"{what} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout
