"""``soundscape analyze PATH --html FILE``: the report page of an inline run, with the
timeline picture inline and, with --out, audio players on the copied stems."""

from __future__ import annotations

import base64
import re
from urllib.request import url2pathname

import pytest

from tests.app.cli.test_cli import cli_env, soundscape, speech_clip

pytestmark = pytest.mark.slow  # the whole pipeline with real models


def test_analyze_writes_the_report_page_and_the_timeline_picture(audio_dir, tmp_path):
    out, page = tmp_path / "out", tmp_path / "pages" / "report.html"
    clip = speech_clip(audio_dir, tmp_path, 5.0)
    done = soundscape(
        "analyze", str(clip), "--out", str(out), "--html", str(page), env=cli_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "artifact  timeline:" in done.stdout
    picture = out / "timeline.png"
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert re.search(r'id="verdict-value">(likely synthetic|likely authentic|inconclusive)<', html)
    inline = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert inline and base64.b64decode(inline.group(1)) == picture.read_bytes()
    sources = re.findall(r'<audio controls preload="none" src="([^"]+)"', html)
    assert len(sources) == 3  # the mix, the vocals, the accompaniment
    for source in sources:
        assert (page.parent / url2pathname(source)).resolve().is_file()


def test_without_out_the_page_has_the_picture_but_no_players(audio_dir, tmp_path):
    page = tmp_path / "report.html"
    clip = speech_clip(audio_dir, tmp_path, 3.0)
    done = soundscape("analyze", str(clip), "--html", str(page), "--json", env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "data:image/png;base64," in html and "<audio" not in html
    assert "run analyze with --out DIR" in html
    assert '"artifacts": {}' in done.stdout
