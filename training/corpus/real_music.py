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

The split rule is in `training.corpus.splits`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from app.hashing import sha256_file
from training.corpus.debian import DEFAULT_PACKAGES, fetch_package, find_package_music
from training.corpus.decode import decode_to_flac, probe_duration
from training.corpus.licences import shared_licence
from training.corpus.records import (
    AUDIO_SUFFIXES,
    MUSIC,
    OTHER,
    SONGS_FOLDER,
    SourceFile,
    TrackRecord,
    require_tools,
    slugify,
    write_manifest,
)
from training.corpus.splits import assign_splits

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


MIN_MUSIC_SECONDS = 30.0


MIN_OTHER_SECONDS = 2.0


Progress = Callable[[str], None]


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
