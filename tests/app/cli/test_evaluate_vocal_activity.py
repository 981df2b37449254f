"""soundscape evaluate-vocal-activity: per-song frame scores on a real song excerpt against
its karaoke notes, a file without notes reported by its active share, the JSON it writes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.app.cli.test_cli import cli_env, soundscape
from training.corpus.notes import sung_spans

SONG = "Jonathan_Coulton_-_Monkey_Shines"  # sings from 0.8 s
INSTRUMENTAL = "Shearer_-_Cant_stop_it_instrumental"  # no notes file; fitted on as unsung


def _cut(source: Path, target: Path, start: float, seconds: float) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(start), "-i", str(source),
         "-t", str(seconds), str(target)],
        check=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def songs_dir(audio_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("songs")
    songs = audio_dir / "songs"
    _cut(songs / f"{SONG}.mp3", folder / f"{SONG}.flac", 0.0, 24.0)
    shutil.copy(songs / f"{SONG}.notes.txt", folder / f"{SONG}.notes.txt")
    _cut(songs / f"{INSTRUMENTAL}.mp3", folder / f"{INSTRUMENTAL}.flac", 20.0, 15.0)
    return folder


def _sung_frames(notes: Path, frames: int) -> int:
    """Frames of 0.1 s that a note overlaps, counted here without the evaluation's code."""
    spans = sung_spans(notes)
    return sum(any(a < (i + 1) * 0.1 and b > i * 0.1 for a, b in spans) for i in range(frames))


def test_scores_the_excerpt_against_its_notes_and_writes_json(
    songs_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "va.json"
    proc = soundscape(
        "evaluate-vocal-activity", "--songs", str(songs_dir), "--seconds", "20",
        "--json", str(out), env=cli_env(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["rule"] == "classifier"
    assert result["models"]["vocal_activity"]["name"] == "soundscape-vad"
    song, instrumental = result["songs"]  # by name
    assert song["song"] == SONG and song["seconds"] == pytest.approx(20.0)
    assert song["tp"] + song["fn"] == _sung_frames(songs_dir / f"{SONG}.notes.txt", 200)
    assert song["f1"] > 0.7
    assert result["mean_f1"] == song["f1"]
    assert instrumental["song"] == INSTRUMENTAL and "f1" not in instrumental
    assert instrumental["seconds"] == pytest.approx(15.0, abs=0.1)
    assert 0.0 <= instrumental["active_share"] <= 1.0
    assert "no notes" in proc.stdout and f"mean F1 {song['f1']:.3f}" in proc.stdout


def test_the_energy_rule_is_measured_without_the_classifier(
    songs_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "va.json"
    proc = soundscape(
        "evaluate-vocal-activity", "--songs", str(songs_dir), "--seconds", "20",
        "--rule", "energy", "--json", str(out), env=cli_env(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["rule"] == "energy" and set(result["models"]) == {"separator"}
    assert result["songs"][0]["song"] == SONG and result["songs"][0]["tp"] > 0


def test_a_missing_folder_is_one_line_of_error(tmp_path: Path) -> None:
    proc = soundscape(
        "evaluate-vocal-activity", "--songs", str(tmp_path / "nope"), env=cli_env(tmp_path)
    )
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == f"soundscape evaluate-vocal-activity: error: no such folder: {tmp_path / 'nope'}"
    )
