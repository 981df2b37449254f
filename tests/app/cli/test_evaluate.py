"""``soundscape evaluate`` on small labelled sets, with a test detector and a broken file."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.cli import evaluate as evaluate_cli
from tests.workers.compute.test_detect import EnergyDetector
from training.evaluation.scoring import vocal_scorer

RATE = 16000


def main(argv: list[str]) -> int:
    """What app.cli does for ``soundscape evaluate`` (app.cli builds every command's parser,
    some of which live in other engineers' modules; this keeps the test to this command)."""
    assert argv[0] == "evaluate"
    parser = argparse.ArgumentParser(prog="soundscape evaluate")
    evaluate_cli.add_arguments(parser)
    return evaluate_cli.run(parser.parse_args(argv[1:]))


def _tone(path: Path, amplitude: float, seconds: float = 5.0) -> Path:
    """A 200 Hz tone whose RMS is amplitude / sqrt(2); EnergyDetector scores 2 * RMS."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    sf.write(path, (amplitude * np.sin(2 * np.pi * 200 * t)).astype(np.float32), RATE)
    return path


@pytest.fixture()
def energy_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace the registry with the energy detector, threshold 0.5."""
    scorer = vocal_scorer(EnergyDetector(), 0.5)
    monkeypatch.setattr(evaluate_cli, "load_model", lambda name, settings: scorer)


@pytest.fixture()
def folder_set(tmp_path: Path) -> Path:
    # real scores ~0.07 and ~0.57 (one false positive at 0.5), fake ~0.85 and ~0.99.
    _tone(tmp_path / "set" / "real" / "quiet.wav", 0.05)
    _tone(tmp_path / "set" / "real" / "loud.wav", 0.40, seconds=2.0)
    _tone(tmp_path / "set" / "fake" / "a.wav", 0.60)
    _tone(tmp_path / "set" / "fake" / "b.flac", 0.70, seconds=9.0)
    (tmp_path / "set" / "fake" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    return tmp_path / "set"


def test_json_output_is_exactly_the_models_figures(
    energy_model: None, folder_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--data", str(folder_set), "--model", "energy", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "models": {
            "energy": {
                "eer": 0.0,
                "auc": 1.0,
                "fpr": 0.5,
                "fnr": 0.0,
                "n_real": 2,
                "n_fake": 2,
                "caught": 1.0,
            }
        }
    }
    assert "broken.wav" in err


def test_text_output_lists_the_broken_file_and_counts_it(
    energy_model: None, folder_set: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--data", str(folder_set), "--model", "energy"]) == 0
    out, err = capsys.readouterr()
    assert "could not score" in err and "broken.wav" in err
    assert "5 files listed, 1 could not be scored" in out
    row = next(line for line in out.splitlines() if line.startswith("energy"))
    assert row.split()[1:4] == ["2", "2", "0.00%"]


def test_csv_and_protocol_layouts_give_the_same_figures(
    energy_model: None, folder_set: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "set.csv"
    csv_file.write_text(
        "path,label\nset/real/quiet.wav,real\nset/real/loud.wav,bonafide\n"
        "set/fake/a.wav,fake\nset/fake/b.flac,spoof\n"
    )
    flac = tmp_path / "asv" / "flac"
    flac.mkdir(parents=True)
    for name in ("real/quiet.wav", "real/loud.wav", "fake/a.wav", "fake/b.flac"):
        src = folder_set / name
        (flac / (src.stem + ".flac")).write_bytes(src.read_bytes())  # ffmpeg sniffs content
    (tmp_path / "asv" / "protocol.txt").write_text(
        "S1 quiet - - bonafide\nS1 loud - - bonafide\nS2 a - A01 spoof\nS2 b - A02 spoof\n"
    )
    figures = []
    for data in (csv_file, tmp_path / "asv" / "protocol.txt"):
        assert main(["evaluate", "--data", str(data), "--model", "energy", "--json"]) == 0
        figures.append(json.loads(capsys.readouterr().out))
    assert figures[0] == figures[1]
    assert figures[0]["models"]["energy"]["n_real"] == 2
    assert figures[0]["models"]["energy"]["fpr"] == 0.5


def test_importing_the_command_does_not_load_torch() -> None:
    code = "import sys, app.cli.evaluate; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.slow
def test_aasist_evaluation_of_a_tiny_folder_is_parseable_json(
    audio_dir: Path,
    weights_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOUNDSCAPE_WEIGHTS_DIR", str(weights_dir))
    monkeypatch.setenv("SOUNDSCAPE_DEVICE", "cpu")
    (tmp_path / "real").mkdir()
    (tmp_path / "fake").mkdir()
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-t",
            "4.5",
            "-i",
            str(audio_dir / "198-209-0000.ogg"),
            str(tmp_path / "real" / "a.flac"),
        ],
        check=True,
    )
    subprocess.run(
        [
            "espeak-ng",
            "-w",
            str(tmp_path / "fake" / "tts.wav"),
            "Every song on the record was written in June.",
        ],
        check=True,
    )
    assert main(["evaluate", "--data", str(tmp_path), "--model", "aasist", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["models"]["aasist"]
    assert set(figures) == {"eer", "auc", "fpr", "fnr", "n_real", "n_fake", "caught"}
    assert (figures["n_real"], figures["n_fake"]) == (1, 1)
    assert figures["auc"] == 1.0 and figures["eer"] == 0.0


def test_fake_subfolders_add_per_generator_aucs(
    energy_model: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _tone(tmp_path / "set" / "real" / "a.wav", 0.05)
    _tone(tmp_path / "set" / "real" / "b.wav", 0.30)
    _tone(tmp_path / "set" / "fake" / "loud" / "x" / "a.wav", 0.60)  # scores above both reals
    _tone(tmp_path / "set" / "fake" / "quiet" / "a.wav", 0.10)  # between the reals
    assert main(["evaluate", "--data", str(tmp_path / "set"), "--model", "energy", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["models"]["energy"]
    assert figures["per_generator"] == {"loud/x": 1.0, "quiet": 0.5}
