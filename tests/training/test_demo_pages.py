"""The demo-page corpus builder: reviewed source lists, files read from git, splits by song."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.corpus.demo_pages import (
    SOURCES_DIR,
    TRAIN,
    VALIDATION,
    build_demo_corpus,
    load_demo_manifest,
    load_sources,
)
from training.corpus.records import CorpusError

SOURCE_LIST = """
sources:
  - repo: someone/demo-page
    ref: HEAD
    licence: "MIT (repository LICENSE)"
    exclude: ["wavs/prompt/*"]
    entries:
      - {glob: "wavs/gt/*.wav", generator: ground-truth, kind: real,
         group: "/(\\\\d+)\\\\.wav$"}
      - {glob: "wavs/*/*.wav", generator: model-x, kind: ai, group: "/(\\\\d+)\\\\.wav$"}
"""


def _tone(path: Path, seconds: float, rate: int, channels: int, freq: float) -> None:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * freq * t)
    sf.write(path, np.stack([mono] * channels, axis=1), rate, subtype="PCM_16")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture()
def demo_repo(tmp_path: Path) -> Path:
    """A demo page as git holds it: 6 songs, each as ground truth and model-x output; a speech
    prompt to leave out; one file repeated under another name."""
    repo = tmp_path / "someone+demo-page"
    for folder in ("gt", "model", "prompt"):
        (repo / "wavs" / folder).mkdir(parents=True)
    for song in range(6):
        _tone(repo / "wavs" / "gt" / f"{song:03d}.wav", 2.0, 24000, 1, 220.0 + 20 * song)
        _tone(repo / "wavs" / "model" / f"{song:03d}.wav", 1.5, 16000, 2, 330.0 + 20 * song)
    _tone(repo / "wavs" / "prompt" / "000.wav", 1.0, 16000, 1, 500.0)
    (repo / "wavs" / "model" / "copy").mkdir()
    (repo / "wavs" / "model" / "copy" / "000.wav").write_bytes(
        (repo / "wavs" / "model" / "000.wav").read_bytes()
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "demo")
    return repo


@pytest.fixture()
def source_list(tmp_path: Path) -> Path:
    path = tmp_path / "list.yaml"
    path.write_text(SOURCE_LIST)
    return path


def test_builder_takes_listed_files_with_their_facts(
    demo_repo: Path, source_list: Path, tmp_path: Path
) -> None:
    records = build_demo_corpus(source_list, [demo_repo], tmp_path / "out")
    by_kind = {kind: [r for r in records if r.kind == kind] for kind in ("ai", "real")}
    assert len(by_kind["real"]) == 6 and len(by_kind["ai"]) == 6  # prompt left out, copy once
    fake = next(r for r in by_kind["ai"] if r.path == "wavs/model/003.wav")
    assert (fake.generator, fake.sample_rate, fake.channels) == ("model-x", 16000, 2)
    assert fake.duration_seconds == pytest.approx(1.5, abs=0.01)
    assert fake.repo == "someone/demo-page" and len(fake.commit) == 40 and len(fake.sha256) == 64
    assert fake.licence == "MIT (repository LICENSE)"
    assert sf.info(str(tmp_path / "out" / "audio" / f"{fake.item_id}.flac")).samplerate == 16000
    assert load_demo_manifest(tmp_path / "out") == records


def test_every_variant_of_a_song_shares_its_split(
    demo_repo: Path, source_list: Path, tmp_path: Path
) -> None:
    records = build_demo_corpus(source_list, [demo_repo], tmp_path / "out")
    splits: dict[str, set[str]] = {}
    for record in records:
        splits.setdefault(record.group, set()).add(record.split)
    assert all(len(found) == 1 for found in splits.values())
    assert {split for found in splits.values() for split in found} == {TRAIN, VALIDATION}


def test_a_copy_of_an_unlisted_repository_is_refused(source_list: Path, tmp_path: Path) -> None:
    other = tmp_path / "nobody+else"
    other.mkdir()
    _git(other, "init", "-q")
    with pytest.raises(CorpusError, match="not a copy of a listed source"):
        build_demo_corpus(source_list, [other], tmp_path / "out")


def test_a_group_pattern_that_finds_nothing_is_an_error(demo_repo: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        SOURCE_LIST.replace('/(\\\\d+)\\\\.wav$"}\n      - {glob', '/(x+)"}\n      - {glob')
    )
    with pytest.raises(CorpusError, match="group pattern finds nothing"):
        build_demo_corpus(broken, [demo_repo], tmp_path / "out")


@pytest.mark.parametrize("name", ["ai-music.yaml", "singing.yaml"])
def test_the_reviewed_source_lists_load(name: str) -> None:
    sources = load_sources(SOURCES_DIR / name)
    assert sources and all(source.entries for source in sources)
    kinds = {entry.kind for source in sources for entry in source.entries}
    assert "ai" in kinds and "real" in kinds


def test_the_data_command_builds_from_a_source_list(
    demo_repo: Path, source_list: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import main

    out = tmp_path / "corpus"
    assert main(["data", "ai-music", "--out", str(out), "--sources", str(source_list),
                 str(demo_repo)]) == 0  # fmt: skip
    assert "12 items in" in capsys.readouterr().out
    assert main(["data", "singing", "--out", str(out), str(tmp_path / "absent")]) == 1
    assert "error: not a folder:" in capsys.readouterr().err


# Paths as the demo repositories hold them, and what the reviewed lists must decide for each
# (kind, generator, group); None where the list leaves the file out.
REVIEWED = [
    ("ai-music.yaml", "ace-step/ace-step.github.io",
     "opus/samples/Controlability-edit/edit_cry.opus", ("ai", "ace-step", "Controlability-edit")),
    ("ai-music.yaml", "ASLP-lab/DiffRhythm.github.io",
     "raw/samples/syn/numb_country_last_3.mp3", ("ai", "diffrhythm", "numb")),
    ("ai-music.yaml", "ASLP-lab/DiffRhythm.github.io", "raw/samples/prompt/pop_en.wav", None),
    ("ai-music.yaml", "AMAAI-Lab/mustango", "samples/musicgen-expert/output_9.wav",
     ("ai", "musicgen", "9")),
    ("ai-music.yaml", "riffusion/riffusion-app-hobby", "public/about/hand_drawn.mp3", None),
    ("ai-music.yaml", "riffusion/riffusion-app-hobby", "public/about/funky_sax_to_piano.mp3",
     ("ai", "riffusion", "funky_sax")),
    ("ai-music.yaml", "eloimoliner/MR-CQTdiff", "samples/FMA/reference/000182.wav",
     ("real", "reference", "samples/FMA/reference/000182")),
    ("singing.yaml", "TCSinger/TCSinger.github.io", "wavs/abl/dm/001.wav",
     ("ai", "tcsinger", "abl-001")),
    ("singing.yaml", "TCSinger/TCSinger.github.io", "wavs/abl/gt/001.wav",
     ("real", "ground-truth", "abl-001")),
    ("singing.yaml", "TCSinger/TCSinger.github.io", "wavs/sts/prompt/001.wav", None),
    ("singing.yaml", "nobody996/FastSVC", "wavs/A2M-ID/FastSVC/ADIZ-18/JTAN.wav",
     ("ai", "fastsvc", "ADIZ")),
    ("singing.yaml", "nobody996/FastSVC", "wavs/A2M-ID/ADIZ_18.wav", ("real", "nus-48e", "ADIZ")),
    ("singing.yaml", "nobody996/FastSVC", "wavs/cross-lingual/UCD-SVC/94/JLEE.wav",
     ("ai", "ucd-svc", "JLEE")),
    ("singing.yaml", "nobody996/FastSVC", "wavs/cross-lingual/JL94.wav", None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "repo", "path", "expected"), REVIEWED)
def test_the_reviewed_lists_decide_real_paths(
    name: str, repo: str, path: str, expected: tuple[str, str, str] | None
) -> None:
    source = next(s for s in load_sources(SOURCES_DIR / name) if s.repo == repo)
    decided = source.classify(path)
    found = None if decided is None else (decided[0].kind, decided[0].generator, decided[1])
    assert found == expected
