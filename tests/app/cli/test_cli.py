"""The soundscape command: analyze inline, serve on the embedded default, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from app.config import PROJECT_ROOT
from tests.conftest import SPEECH, WEIGHTS_DIR
from tests.integration.conftest import free_port, wait_until

pytestmark = pytest.mark.slow  # real pretrained models or whole processes


def soundscape(
    *args: str, env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
        **kwargs,
    )


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SOUNDSCAPE_DATA_DIR": str(tmp_path / "data"),
        "SOUNDSCAPE_WEIGHTS_DIR": str(WEIGHTS_DIR),
    }


def speech_clip(audio_dir: Path, tmp_path: Path, seconds: float = 5.0) -> Path:
    clip = tmp_path / "speech.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(audio_dir / SPEECH[0]),
            "-t",
            str(seconds),
            str(clip),
        ],
        check=True,
    )
    return clip


def test_analyze_json_prints_exactly_the_report(audio_dir, tmp_path):
    done = soundscape(
        "analyze",
        str(speech_clip(audio_dir, tmp_path)),
        "--json",
        env=cli_env(tmp_path),
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["verdict"] in {"likely_synthetic", "likely_authentic", "inconclusive"}
    assert report["audio"]["duration_seconds"] == 5.0
    # The speech-trained vocal detector does not count toward the verdict: off by default.
    assert report["options"] == {"vocal_detector": False}
    assert "vocal_detector" not in report["models"]
    assert report["scores"]["vocals"] is None and report["timeline"]["vocals"] == []


def test_analyze_runs_the_vocal_detector_when_asked(audio_dir, tmp_path):
    clip = str(speech_clip(audio_dir, tmp_path))
    done = soundscape("analyze", clip, "--json", "--vocal-detector", env=cli_env(tmp_path))
    report = json.loads(done.stdout)
    assert report["options"] == {"vocal_detector": True}
    assert report["models"]["vocal_detector"]["name"] == "aasist"
    assert len(report["timeline"]["vocals"]) == 5


def test_analyze_refuses_a_non_audio_file_with_one_line(tmp_path):
    bogus = tmp_path / "notes.mp3"
    bogus.write_text("not audio\n" * 50)
    done = soundscape("analyze", str(bogus), "--json", env=cli_env(tmp_path))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("soundscape analyze: error: ")
    assert "not a recognised audio format" in done.stderr and "Traceback" not in done.stderr


def test_analyze_names_a_missing_file(tmp_path):
    done = soundscape("analyze", str(tmp_path / "nope.wav"), env=cli_env(tmp_path))
    assert done.returncode == 1 and "no such file" in done.stderr


def test_serve_runs_the_api_and_a_worker_with_no_servers(audio_dir, tmp_path):
    env = cli_env(tmp_path)
    with running_serve(env) as base:
        key = soundscape("keys", "create", "--tenant", "demo", env=env, check=True).stdout.strip()
        auth = {"Authorization": f"Bearer {key}"}
        with speech_clip(audio_dir, tmp_path, 4.0).open("rb") as fh:
            job = requests.post(
                f"{base}/v1/jobs", files={"file": fh}, headers=auth, timeout=30
            ).json()
        done = wait_until(
            lambda: _finished(f"{base}/v1/jobs/{job['id']}", auth), 240, "the job to finish"
        )
        assert done["status"] == "succeeded", done["error"]
        vocals = requests.get(done["result"]["artifacts"]["vocals"], headers=auth, timeout=30)
        assert vocals.status_code == 200 and vocals.content[:4] == b"fLaC"


def start_serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """``soundscape serve`` with ``env`` on ``port``, in its own process group, output dropped."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@contextmanager
def running_serve(env: dict[str, str]) -> Iterator[str]:
    """``soundscape serve`` with ``env`` on a free port, ready (``/readyz`` 200): yields its
    base URL, and stops it (SIGTERM to its process group) at the end."""
    port = free_port()
    server = start_serve(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(base), 90, "soundscape serve to be ready")
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _finished(url: str, auth: dict[str, str]) -> dict | None:
    job = requests.get(url, headers=auth, timeout=10).json()
    return job if job["status"] in {"succeeded", "failed", "canceled"} else None
