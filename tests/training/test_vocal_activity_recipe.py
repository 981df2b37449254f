"""The vocal-activity recipe: no song is ever predicted by a model fitted on it, and the
checkpoint it writes loads with its measured report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from training.recipes import vocal_activity as recipe
from workers.compute.vocal_classifier import load_vocal_classifier
from workers.networks.roles import ModelInfo

SONGS = (
    "Jonathan_Coulton_-_Monkey_Shines.mp3",
    "Jonathan_Coulton_-_Better.mp3",
    "Steven_Dunston_-_Northern_Star.ogg",
)


@pytest.fixture(scope="module")
def songs_dir(audio_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 20 s of three songs (each sings within it) and their note files."""
    folder = tmp_path_factory.mktemp("songs")
    for name in SONGS:
        source = audio_dir / "songs" / name
        stem = Path(name).stem
        subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-t", "20",
             str(folder / f"{stem}.flac")],
            check=True,
        )  # fmt: skip
        shutil.copy(source.with_name(f"{stem}.notes.txt"), folder / f"{stem}.notes.txt")
    return folder


def test_no_song_is_predicted_by_a_model_that_saw_it(
    songs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted_on: dict[int, set[str]] = {}
    predicted: list[tuple[int, str]] = []
    alive: list[Any] = []  # keeps every model, so that no two share an id()
    fit, predict_song = recipe.fit, recipe.predict_song

    def recording_fit(songs: Any, config: Any) -> Any:
        model = fit(songs, config)
        fitted_on[id(model)] = {s.name for s in songs}
        alive.append(model)
        return model

    def recording_predict(model: Any, song: Any, config: Any) -> Any:
        predicted.append((id(model), song.name))
        return predict_song(model, song, config)

    monkeypatch.setattr(recipe, "fit", recording_fit)
    monkeypatch.setattr(recipe, "predict_song", recording_predict)
    config = recipe.VocalActivityConfig(steps=30)
    report = recipe.train_vocal_activity(songs_dir, tmp_path / "vad.pt", config)

    assert predicted, "the recipe predicted nothing"
    for model, song in predicted:
        assert song not in fitted_on[model], f"{song} was predicted by a model fitted on it"
    every_song = {Path(name).stem for name in SONGS}
    assert [row["song"] for row in report["leave_one_song_out"]] == sorted(every_song)
    assert [row["song"] for row in report["singer_split"]] == ["Steven_Dunston_-_Northern_Star"]
    assert every_song in fitted_on.values(), "the shipped model is fitted on every song"


def test_the_written_checkpoint_loads_with_its_report(songs_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "vad.pt"
    report = recipe.train_vocal_activity(songs_dir, out, recipe.VocalActivityConfig(steps=30))
    loaded = load_vocal_classifier(out, ModelInfo("test-vad", None))
    assert loaded.threshold == report["threshold"] and report["threshold"] in recipe.THRESHOLDS
    assert loaded.smooth_frames == recipe.VocalActivityConfig().smooth_frames
    assert loaded.training["leave_one_song_out_mean_f1"] == report["leave_one_song_out_mean_f1"]
