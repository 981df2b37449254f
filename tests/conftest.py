"""Shared fixtures: the real recordings and weights in ../shared, and audio the tests make."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.config import PROJECT_ROOT, Settings

SHARED_DIR = PROJECT_ROOT.parent / "shared"
AUDIO_DIR = SHARED_DIR / "audio"
WEIGHTS_DIR = SHARED_DIR / "weights"

SONG = "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
INSTRUMENTAL = "Kevin_MacLeod_-_Vibe_Ace.ogg"
SPEECH = ("198-209-0000.ogg", "3436-172162-0000.ogg", "5703-47212-0000.ogg")


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(f"{what} missing: expected {path} (../shared beside the checkout)")
    return path


@pytest.fixture(scope="session")
def audio_dir() -> Path:
    """The folder of real recordings (../shared/audio)."""
    return _require(AUDIO_DIR, "shared recordings")


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    """The folder of real pretrained weights (../shared/weights)."""
    return _require(WEIGHTS_DIR, "shared weights")


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    tool = shutil.which("ffmpeg")
    if tool is None:
        pytest.fail("ffmpeg is not installed: run scripts/setup.sh")
    return tool


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    """Embedded-default settings rooted in a fresh temporary folder."""
    return Settings(data_dir=tmp_path / "data", weights_dir=WEIGHTS_DIR)


def make_tone_file(path: Path, seconds: float = 3.0, sample_rate: int = 44100) -> Path:
    """Write a stereo two-tone chord as the file type ``path``'s suffix names (via ffmpeg)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    left = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.2 * np.sin(2 * np.pi * 330.0 * t)
    right = 0.3 * np.sin(2 * np.pi * 277.2 * t) + 0.2 * np.sin(2 * np.pi * 440.0 * t)
    raw = np.stack([left, right], axis=1).astype("<f4").tobytes()
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "f32le",
        "-ar",
        str(sample_rate),
        "-ac",
        "2",
        "-i",
        "pipe:0",
        str(path),
    ]
    subprocess.run(cmd, input=raw, check=True)
    return path


@pytest.fixture()
def migrated_settings(settings: Settings) -> Settings:
    """Embedded-default settings whose SQLite database is migrated to head."""
    from app.db import upgrade

    upgrade(settings.database_url)
    return settings


@pytest.fixture()
def api_key(migrated_settings: Settings) -> str:
    from app.services.tenants import create_key

    return create_key(migrated_settings.database_url, "tenant-a")


@pytest.fixture()
def client(migrated_settings: Settings):  # type: ignore[no-untyped-def]
    from app import create_app

    return create_app(migrated_settings).test_client()
