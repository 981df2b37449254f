"""The model registry for vocal detectors: names, defaults, loading once, verified weights,
the scoring contract."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest
import torch
import yaml

from app.errors import WeightsChecksumError, WeightsMissingError
from tests.workers.networks.test_weights import serve_folder
from workers.networks import weights
from workers.networks.registry import default_model_name, load_model, model_name, specs
from workers.networks.weights import MANIFEST_PATH, load_manifest, resolve

pytestmark = pytest.mark.slow  # real pretrained models or whole processes

DETECTORS = specs("vocal-detector")
load_detector = partial(load_model, "vocal-detector")
detector_name = partial(model_name, "vocal-detector")
default_detector_name = partial(default_model_name, "vocal-detector")

NAMES = ["aasist", "aasist-l", "rawgat-st", "svdd-raw", "svdd-lfcc"]


def test_registry_lists_the_five_detectors_of_the_manifest() -> None:
    assert sorted(DETECTORS) == sorted(NAMES)
    manifest = load_manifest()
    assert all(manifest[name].role == "vocal-detector" for name in NAMES)


def test_default_detector_is_aasist_with_a_known_licence() -> None:
    assert default_detector_name() == "aasist"
    assert load_manifest()["aasist"].licence == "MIT"


def test_load_detector_loads_once_per_process(weights_dir: Path) -> None:
    assert load_detector("aasist-l", weights_dir) is load_detector("aasist-l", weights_dir)


def test_detector_reports_its_name_and_the_sha256_of_its_weights(weights_dir: Path) -> None:
    detector = load_detector("aasist-l", weights_dir)
    assert detector.info.name == "aasist-l"
    assert detector.info.sha256 == load_manifest()["aasist-l"].sha256


@pytest.mark.parametrize("name", NAMES)
def test_detector_declares_16_khz_and_its_window(name: str, weights_dir: Path) -> None:
    detector = load_detector(name, weights_dir)
    assert detector.sample_rate == 16000
    assert detector.window == (64000 if name.startswith("svdd") else 64600)


@pytest.mark.parametrize("name", NAMES)
def test_score_batch_returns_one_probability_per_window_on_cpu(
    name: str, weights_dir: Path
) -> None:
    detector = load_detector(name, weights_dir)
    batch = torch.cat([0.3 * torch.randn(1, detector.window), torch.zeros(1, detector.window)])
    scores = detector.score_batch(batch)
    assert scores.shape == (2,) and scores.dtype == torch.float64
    assert scores.device.type == "cpu"
    assert bool(((scores >= 0) & (scores <= 1)).all())


def test_score_batch_rejects_windows_of_the_wrong_length(weights_dir: Path) -> None:
    detector = load_detector("aasist-l", weights_dir)
    with pytest.raises(ValueError, match="64600"):
        detector.score_batch(torch.zeros(1, 16000))


def test_unknown_detector_name_is_a_clear_error(weights_dir: Path) -> None:
    with pytest.raises(ValueError, match="known: aasist"):
        load_detector("wav2vec-magic", weights_dir)


def test_altered_weights_file_fails_checksum(weights_dir: Path, tmp_path: Path) -> None:
    relative = load_manifest()["aasist-l"].file
    corrupted = tmp_path / relative
    corrupted.parent.mkdir(parents=True)
    shutil.copyfile(weights_dir / relative, corrupted)
    with corrupted.open("r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 0xFF]))
    with pytest.raises(WeightsChecksumError):
        load_detector("aasist-l", tmp_path)


def test_missing_weights_file_names_what_to_download(tmp_path: Path) -> None:
    with pytest.raises(WeightsMissingError, match="AASIST-L.pth"):
        load_detector("aasist-l", tmp_path)


def test_detector_name_empty_means_the_manifest_default() -> None:
    assert detector_name("") == default_detector_name() == "aasist"


@pytest.mark.parametrize("name", NAMES)
def test_detector_name_keeps_a_known_choice(name: str) -> None:
    assert detector_name(name) == name


def test_detector_name_rejects_an_unknown_name_listing_the_choices() -> None:
    with pytest.raises(ValueError, match="'wav2vec-magic'.*aasist, aasist-l, rawgat-st"):
        detector_name("wav2vec-magic")


def _manifest_with_url(tmp_path: Path, name: str, url: str) -> Path:
    """A copy of weights/manifest.yaml where model ``name`` downloads from ``url``."""
    raw = yaml.safe_load(MANIFEST_PATH.read_text())
    for item in raw["models"]:
        if item["name"] == name:
            item["url"] = url
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_load_detector_downloads_missing_weights_only_when_allowed(
    weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_folder(weights_dir / "aasist") as server:
        manifest = _manifest_with_url(tmp_path, "aasist-l", f"{server.url}/AASIST-L.pth")
        monkeypatch.setattr(weights, "resolve", partial(resolve, manifest=manifest))
        with pytest.raises(WeightsMissingError, match="AASIST-L.pth"):
            load_detector("aasist-l", tmp_path / "w")
        assert server.requests == []
        detector = load_detector("aasist-l", tmp_path / "w", "cpu", allow_download=True)
        assert server.requests == ["/AASIST-L.pth"]
    assert (tmp_path / "w" / "aasist" / "AASIST-L.pth").is_file()
    assert detector.info.sha256 == load_manifest()["aasist-l"].sha256
