"""The real-music corpus: picking music out of a .deb, licences, splits and the manifest."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.corpus.debian import fetch_package
from training.corpus.decode import decode_to_flac
from training.corpus.licences import licence_for, shared_licence
from training.corpus.real_music import SHARED_OTHER, build_corpus, find_shared_music
from training.corpus.records import (
    MUSIC,
    OTHER,
    PackageFetchError,
    ToolMissingError,
    TrackRecord,
    load_manifest,
    require_tools,
    tracks_in,
    write_manifest,
)
from training.corpus.splits import assign_splits

PACKAGE = "tinygame-music"
GAME = "usr/share/games/tinygame"
DEP5 = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Tiny Game

Files: *
Copyright: 2005 Tiny Game Team
License: GPL-2+

Files: data/music/*
Copyright: 2006 A Composer
License: CC-BY-SA-3.0
 Attribution-ShareAlike 3.0 Unported.

License: GPL-2+
 This program is free software.
"""
OLD_STYLE_COPYRIGHT = """\
This package was debianized by Someone.

License:

    This package is free software; you can redistribute it and/or modify
    it under the terms of the GNU General Public License as published by
    the Free Software Foundation; either version 2 of the License, or
    (at your option) any later version.
"""


def write_melody(path: Path, seconds: float, rate: int = 22050) -> Path:
    """A sequence of half-second notes, encoded by ffmpeg as the suffix of `path` names."""
    t = np.arange(int(seconds * rate)) / rate
    semitone = (np.floor(t * 2) * 7) % 12
    mono = 0.3 * np.sin(2 * np.pi * 220.0 * 2 ** (semitone / 12) * t)
    raw = mono.astype("<f4").tobytes()
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "f32le", "-ar", str(rate)]
    subprocess.run([*command, "-ac", "1", "-i", "pipe:0", str(path)], input=raw, check=True)
    return path


@pytest.fixture(scope="module")
def tiny_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real .deb with a 35 s theme, the same theme copied, a 3 s and a 1 s effect and a
    DEP-5 file."""
    root = tmp_path_factory.mktemp("deb") / "tree"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text(
        f"Package: {PACKAGE}\nVersion: 1.2-3\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: music for a tiny game\n"
    )
    for folder in (
        f"{GAME}/data/music",
        f"{GAME}/sounds",
        f"{GAME}/extra",
        f"usr/share/doc/{PACKAGE}",
    ):
        (root / folder).mkdir(parents=True)
    theme = write_melody(root / GAME / "data/music/Main Theme.ogg", seconds=35.0)
    (root / GAME / "extra/theme-copy.ogg").write_bytes(theme.read_bytes())
    write_melody(root / GAME / "sounds/click.ogg", seconds=3.0)
    write_melody(root / GAME / "sounds/tick.ogg", seconds=1.0)
    (root / f"usr/share/doc/{PACKAGE}/copyright").write_text(DEP5)
    debs = root.parent / "debs"
    debs.mkdir()
    deb = debs / f"{PACKAGE}_1.2-3_all.deb"
    subprocess.run(["dpkg-deb", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture(scope="module")
def tiny_shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared folder with one vocal-less song and its licence note."""
    shared = tmp_path_factory.mktemp("shared")
    songs = shared / "audio/songs"
    songs.mkdir(parents=True)
    write_melody(songs / "Some_Band_-_Tune_instrumental.ogg", seconds=31.0)
    (songs / "Some_Band_-_Tune.license.txt").write_text(
        "http://creativecommons.org/licenses/by-nc-sa/2.5/\n"
    )
    return shared


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, tiny_deb: Path, tiny_shared: Path) -> Path:
    """A corpus built offline: the .deb is already in `debs/`, so nothing is downloaded."""
    out = tmp_path_factory.mktemp("corpus")
    (out / "debs").mkdir()
    (out / "debs" / tiny_deb.name).write_bytes(tiny_deb.read_bytes())
    build_corpus(out, tiny_shared, packages=(PACKAGE,), seed=0)
    return out


def test_package_music_is_kept_once_and_sound_effects_are_other_real_audio(built: Path) -> None:
    debian = [r for r in load_manifest(built) if r.source == f"debian:{PACKAGE}"]

    assert [(r.track_id, r.original_path, r.kind) for r in debian] == [
        (f"{PACKAGE}--click", f"{GAME}/sounds/click.ogg", OTHER),
        (f"{PACKAGE}--main-theme", f"{GAME}/data/music/Main Theme.ogg", MUSIC),
    ]  # the copy is a duplicate, the 1 s tick too short to be anything
    debian = debian[1:]
    assert debian[0].package_version == "1.2-3"
    assert debian[0].duration_seconds == pytest.approx(35.0, abs=0.05)
    assert not debian[0].has_vocals


def test_licence_comes_from_the_dep5_stanza_matching_the_path(built: Path) -> None:
    debian = {r.original_path: r for r in load_manifest(built) if r.source.startswith("debian:")}

    assert debian[f"{GAME}/data/music/Main Theme.ogg"].licence == "CC-BY-SA-3.0"
    assert debian[f"{GAME}/sounds/click.ogg"].licence == "GPL-2+"
    assert licence_for(DEP5, f"{GAME}/sounds/click.ogg") == "GPL-2+"


def test_licence_of_a_free_text_copyright_file_is_the_package_licence() -> None:
    assert licence_for(OLD_STYLE_COPYRIGHT, f"{GAME}/music/a.ogg") == "GPL-2+"


def test_tracks_are_decoded_to_44k1_stereo_16_bit_flac(built: Path) -> None:
    for record in load_manifest(built):
        info = sf.info(str(built / "audio" / f"{record.track_id}.flac"))
        assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")


def test_shared_song_licence_and_vocals_come_from_its_files(built: Path) -> None:
    shared = next(r for r in load_manifest(built) if r.source == "shared")

    assert shared.licence == "CC-BY-NC-SA-2.5"
    assert not shared.has_vocals
    assert shared.split in ("validation", "calibration")


def test_rerun_reuses_the_kept_deb_and_decoded_audio(built: Path, tiny_shared: Path) -> None:
    audio = sorted((built / "audio").iterdir())
    stamps = [p.stat().st_mtime_ns for p in audio]

    again = build_corpus(built, tiny_shared, packages=(PACKAGE,), seed=0)

    assert [p.stat().st_mtime_ns for p in audio] == stamps
    assert sorted(again, key=lambda r: r.track_id) == load_manifest(built)
    assert len(list((built / "debs").iterdir())) == 1


def test_shared_licence_of_an_instrumental_is_read_from_its_song_note(audio_dir: Path) -> None:
    mp3 = audio_dir / "songs/Shearer_-_Cant_stop_it_instrumental.mp3"

    assert shared_licence(mp3) == "CC-BY-NC-SA-2.0"
    assert shared_licence(audio_dir / "Kevin_MacLeod_-_Vibe_Ace.ogg") == "CC-BY-3.0"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_shared_vocal_songs_are_mostly_held_for_calibration(audio_dir: Path, seed: int) -> None:
    records = assign_splits([s.record for s in find_shared_music(audio_dir.parent)], seed)
    songs = [r for r in records if r.has_vocals and r.original_path.startswith("songs/")]
    train = [r for r in songs if r.split == "train"]

    assert len(songs) == 8
    assert sum(r.split == "calibration" for r in songs) >= 5
    assert sum(r.split == "validation" for r in songs) == 1
    assert len(train) <= 2
    assert sum("Coulton" in r.original_path for r in train) <= 1
    assert all(r.split != "train" for r in records if not r.has_vocals)
    others = [r for r in records if r.kind == OTHER]
    assert {r.original_path for r in others} == set(SHARED_OTHER)
    assert {r.split for r in others} == {"calibration"}  # held out: never learned from


def debian_records(count: int, source: str = "debian:pkg") -> list[TrackRecord]:
    package = source.removeprefix("debian:")
    return [
        TrackRecord(
            f"{package}--track-{i}", source, "1", f"t{i}.ogg", "GPL-2+", 60.0, f"{i}", False, ""
        )
        for i in range(count)
    ]


def test_debian_split_is_by_track_deterministic_and_55_15_30_per_package() -> None:
    records = debian_records(200, "debian:a") + debian_records(40, "debian:b")
    first, second = assign_splits(records, seed=7), assign_splits(records[::-1], seed=7)

    assert {r.track_id: r.split for r in first} == {r.track_id: r.split for r in second}
    for source, count in (("debian:a", 200), ("debian:b", 40)):
        splits = [r.split for r in first if r.source == source]
        shares = [splits.count(s) / count for s in ("train", "validation", "calibration")]
        assert shares == pytest.approx([0.55, 0.15, 0.30], abs=1 / count)
    assert assign_splits(records, seed=8) != first


def test_manifest_round_trips_and_filters_by_split(tmp_path: Path) -> None:
    records = assign_splits(debian_records(20), seed=0)
    records[0] = replace(records[0], package_version=None, source="shared", split="calibration")

    write_manifest(tmp_path, records)

    assert load_manifest(tmp_path) == sorted(records, key=lambda r: r.track_id)
    assert {r.split for r in tracks_in(tmp_path, "calibration")} == {"calibration"}
    with pytest.raises(ValueError, match="unknown split"):
        tracks_in(tmp_path, "test")


def test_unknown_package_fails_naming_it_and_the_apt_error(tmp_path: Path) -> None:
    with pytest.raises(PackageFetchError, match=r"no-such-package-soundscape: E: .*"):
        fetch_package("no-such-package-soundscape", tmp_path)


def test_missing_tool_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(ToolMissingError, match="apt-get is not on PATH"):
        require_tools()


def test_digital_silence_is_cut_from_both_ends_of_a_decoded_file(tmp_path: Path) -> None:
    rate = 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)).astype(np.float32)
    silence = np.zeros(2 * rate, dtype=np.float32)
    source = tmp_path / "module.wav"
    sf.write(source, np.concatenate([silence[: rate // 2], tone, silence]), rate)
    all_quiet = tmp_path / "silence.wav"
    sf.write(all_quiet, silence, rate)

    seconds = decode_to_flac(source, tmp_path / "module.flac")
    kept = decode_to_flac(all_quiet, tmp_path / "silence.flac")

    assert seconds == pytest.approx(3.0, abs=0.01)
    audio, _ = sf.read(tmp_path / "module.flac", always_2d=True)
    assert audio.shape[1] == 2 and np.abs(audio[:10]).max() > 0  # starts with the tone
    assert kept == pytest.approx(2.0, abs=0.01)  # silence throughout stays whole


def test_a_file_decoded_before_trimming_existed_is_trimmed_on_a_rerun(tmp_path: Path) -> None:
    rate = 44100
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(3 * rate) / rate)).astype(np.float32)
    old = np.concatenate([tone, np.zeros(5 * rate, dtype=np.float32)])
    sf.write(tmp_path / "old.flac", np.stack([old, old], axis=1), rate, subtype="PCM_16")

    assert decode_to_flac(tmp_path / "missing-source.ogg", tmp_path / "old.flac") == (
        pytest.approx(3.0, abs=0.01)
    )
    assert not (tmp_path / "old.partial.flac").exists()
