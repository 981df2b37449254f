"""The web console in a real browser (headless Debian Chromium) against a real
``soundscape serve``: paste a key, upload a partial fake, wait for its report, and find the
verdict, the synthetic region and the timeline picture on the page.

The screenshot of the report is kept in ``test-artifacts/browser/`` (or
``$SOUNDSCAPE_TEST_ARTIFACTS``); the test prints where.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from tests.app.cli.test_cli import cli_env, running_serve, soundscape
from tests.browser.webdriver import Browser
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.slow  # whole processes and a browser

SONG = "songs/Jonathan_Coulton_-_Better.mp3"
ARTIFACTS = Path(os.environ.get("SOUNDSCAPE_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts"))


@pytest.fixture()
def partial_fake(audio_dir: Path, tmp_path: Path) -> tuple[Path, list[list[float]]]:
    """40 s of a real song with 16 s re-synthesised by a HiFi-GAN-like vocoder (random init:
    no fitting in the test; its artefacts are strong, so the region is found in full)."""
    out = tmp_path / "partial"
    soundscape(
        "make-partial",
        str(audio_dir / SONG),
        "--out",
        str(out),
        "--generator",
        "vocoder-tconv/hifigan-v1-22k-h256",
        "--regions",
        "1",
        "--min-seconds",
        "16",
        "--max-seconds",
        "16",
        "--track-seconds",
        "40",
        "--fit-steps",
        "0",
        env=cli_env(tmp_path),
        check=True,
    )
    truth = json.loads((out / "regions.json").read_text())
    ((name, spans),) = truth.items()
    return out / name, spans


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = cli_env(tmp_path)
    with running_serve(env) as base:
        key = soundscape("keys", "create", "--tenant", "web", env=env, check=True).stdout.strip()
        yield base, key


@pytest.fixture()
def browser() -> Iterator[Browser]:
    chromium = Browser()
    try:
        yield chromium
    finally:
        chromium.close()


def test_upload_through_the_console_and_read_the_report(server, browser, partial_fake) -> None:  # type: ignore[no-untyped-def]
    base, key = server
    track, truth = partial_fake
    browser.open(base + "/")
    browser.type("#api-key", key)
    browser.click("#use-key")
    wait_until(lambda: browser.text("#key-state") == "key accepted", 30, "the key to be accepted")
    browser.type("#files", str(track))
    browser.click("#upload")
    row = "tr.job[data-status='succeeded'] a.report-link"
    finished = "return document.querySelector(\"tr.job:not([data-status='queued'])"
    finished += ":not([data-status='running'])\")?.dataset.status"
    status = wait_until(lambda: browser.script(finished), 600, "the job to finish", interval=2)
    assert status == "succeeded", browser.text("#jobs")
    browser.click(row)
    wait_until(lambda: browser.script("return !!document.getElementById('verdict')"), 30, "report")

    shot = browser.screenshot(ARTIFACTS / "browser" / "console-report.png")
    print(f"screenshot of the report page: {shot}")
    verdict = browser.text("#verdict-value")
    assert verdict in {"likely synthetic", "inconclusive"}, verdict
    regions = browser.script(
        "return [...document.querySelectorAll('tr.region')].map("
        "r => [...r.cells].map(c => c.textContent))"
    )
    assert regions, "no region row on the page"
    (start, end) = truth[0]
    assert any(_overlaps(row, start, end) for row in regions), (regions, truth)
    width = browser.script(
        "const img = document.getElementById('timeline-picture');"
        "return img && img.complete ? img.naturalWidth : 0"
    )
    assert width == 1200
    assert browser.script("return document.querySelectorAll('audio').length") >= 2


def _overlaps(cells: list[str], start: float, end: float) -> bool:
    """Whether a regions-table row (m:ss.s start and end) overlaps [start, end] seconds."""
    seconds = [int(c.split(":")[0]) * 60 + float(c.split(":")[1]) for c in cells[:2]]
    return seconds[0] < end and seconds[1] > start
