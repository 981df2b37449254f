"""Training the mixture detector end to end on a tiny budget gives a loadable checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.cli import main
from training.conditions import CONDITIONS
from training.corpus.records import TrackRecord, write_manifest
from workers.compute.audio import decode_file
from workers.mixture.classifier import load_checkpoint, predict, track_windows

TRACKS = {
    "Kevin_MacLeod_-_Vibe_Ace.ogg": "train",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg": "train",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg": "validation",
    "Karissa_Hobbs_-_Lets_Go_Fishin.ogg": "validation",
    "glacier-bay-humpback.ogg": "calibration",
}


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory, audio_dir: Path) -> Path:
    """Five real recordings of ../shared/audio, 24 s each, as a corpus with a manifest."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "audio").mkdir()
    records = []
    for name, split in TRACKS.items():
        track_id = Path(name).stem.lower()[:24]
        audio = decode_file(audio_dir / name, 44100, 2, max_seconds=24.0)
        sf.write(root / "audio" / f"{track_id}.flac", audio.T, 44100)
        duration = audio.shape[1] / 44100
        records.append(
            TrackRecord(track_id, "shared", None, name, "test", duration, "-", False, split)
        )
    write_manifest(root, records)
    return root


@pytest.mark.slow
def test_train_mixture_writes_a_checkpoint_with_its_whole_report(
    tiny_corpus: Path, tmp_path: Path
) -> None:
    out, report = tmp_path / "mix.pt", tmp_path / "report.json"
    args = [
        "train",
        "mixture",
        "--data",
        str(tiny_corpus),
        "--out",
        str(out),
        "--report",
        str(report),
        "--family",
        "codec-tconv",
        "--family",
        "griffin-lim",
        "--excerpts-per-track",
        "1",
        "--generator-steps",
        "2",
        "--calibration-seconds",
        "10",
        "--calibration-excerpts",
        "1",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    model, info = load_checkpoint(out)
    assert info == json.loads(report.read_text())
    assert set(info["leave_one_family_out"]["all-linear"]) == {"codec-tconv", "griffin-lim"}
    assert set(info["leave_one_family_out"]) == {
        "fingerprint-linear",
        "cnn-logspec",
        "spectral-linear",
        "phase-linear",
        "all-linear",
        "all-mlp32",
    }
    detection = info["leave_one_family_out_detection"]
    assert set(detection) == {"spectral-linear", "phase-linear", "all-linear", "all-mlp32"}
    assert info["candidate"] in detection
    calibration = info["calibration"]
    # A threshold just past 1.0 is valid: calibration items scored 1.0, and no score may reach it.
    ceiling = float(np.nextafter(1.0, 2.0))
    assert 0.0 < calibration["authentic_threshold"] <= calibration["threshold"] <= ceiling
    assert calibration["n"] == len(CONDITIONS)  # one calibration excerpt, every condition
    assert info["rows"] == {"train": 2 * 4, "validation": 2 * 4}  # 2 reals + 2 fakes each
    audio, _ = sf.read(tiny_corpus / "audio" / "glacier-bay-humpback.flac", dtype="float32")
    scores = predict(model, track_windows(audio.mean(axis=1), 5.0).features)
    assert ((scores >= 0) & (scores <= 1)).all()


def test_train_refuses_a_folder_without_a_manifest(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["train", "mixture", "--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 1
    assert "holds no manifest.json" in capsys.readouterr().err
