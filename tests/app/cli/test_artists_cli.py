"""`soundscape artists import | list | remove` on the embedded default, and `analyze` matching
against the gallery they fill: the real pipeline, in separate processes."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.app.cli.test_cli import cli_env, soundscape
from tests.conftest import AUDIO_DIR, SPEECH

pytestmark = pytest.mark.slow  # real pretrained models on real audio

ENROL_SECONDS = 9.0


def cut(source: Path, target: Path, start: float, seconds: float | None = None) -> Path:
    length = ["-t", str(seconds)] if seconds else []
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(start), "-i", str(source)]
        + length
        + [str(target)],
        check=True,
    )
    return target


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A research-code layout: one folder per artist, plus a bad file and a duplicate."""
    root = tmp_path_factory.mktemp("artists")
    gallery = root / "gallery"
    for artist, reader in (("Heather Barnett", SPEECH[0]), ("Anders Lankford", SPEECH[1])):
        cut(AUDIO_DIR / reader, gallery / artist / "reading.flac", 0.0, ENROL_SECONDS)
    (gallery / "Anders Lankford" / "liner-notes.txt").write_text("not a recording\n")
    copy = gallery / "Heather Barnett" / "reading-copy.flac"
    copy.write_bytes((gallery / "Heather Barnett" / "reading.flac").read_bytes())
    return root


@pytest.fixture(scope="module")
def first_import(workspace) -> subprocess.CompletedProcess:
    return soundscape("artists", "import", str(workspace / "gallery"), env=cli_env(workspace))


def test_import_enrols_each_artist_folder_and_reports_what_it_skipped(first_import):
    assert first_import.returncode == 0, first_import.stderr
    out = first_import.stdout
    assert "enrolled 2 reference(s) of 2 artist(s)" in out
    assert "enrolled  Anders Lankford: reading.flac" in out
    assert "skipped   Anders Lankford: liner-notes.txt: not audio" in out
    # Of the two identical files, the first enrolls and the second is a duplicate.
    assert re.search(r"enrolled  Heather Barnett: reading(-copy)?\.flac", out)
    assert re.search(r"skipped   Heather Barnett: reading(-copy)?\.flac: duplicate: already", out)
    assert "file" in first_import.stderr  # the progress bar


def test_import_prints_each_artists_enrolment_quality_with_its_warnings(first_import):
    out = first_import.stdout
    assert "enrolment quality of 2 artist(s), 2 with warnings" in out
    lines = {
        line.split(": ", 1)[0].split("quality   ")[1]: line
        for line in out.splitlines()
        if line.startswith("  quality   ")
    }
    assert set(lines) == {"Heather Barnett", "Anders Lankford"}
    # One 9 s reading each: too little voice in all, and nothing to check agreement against.
    for line in lines.values():
        assert re.search(r": 1 reference\(s\), \d+\.\d s of vocals: warning: ", line), line
        assert "too_little_vocals (" in line and "single_reference (" in line
        assert "cannot be checked" in line


def test_import_names_the_recordings_of_an_artist_that_disagree(tmp_path):
    gallery = tmp_path / "gallery"
    cut(AUDIO_DIR / SPEECH[0], gallery / "Two Readers" / "first.flac", 0.0, ENROL_SECONDS)
    cut(AUDIO_DIR / SPEECH[2], gallery / "Two Readers" / "second.flac", 0.0, ENROL_SECONDS)
    result = soundscape("artists", "import", str(gallery), env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    line = next(s for s in result.stdout.splitlines() if s.startswith("  quality   Two Readers"))
    assert ": 2 reference(s), " in line and ", lowest agreement 0." in line
    assert "references_disagree (references first.flac and second.flac are 0." in line
    assert "reference_outlier" not in line  # of two, neither can be blamed


def test_running_the_import_again_skips_what_is_already_enrolled(workspace, first_import):
    again = soundscape("artists", "import", str(workspace / "gallery"), env=cli_env(workspace))
    assert again.returncode == 0, again.stderr
    assert "enrolled 0 reference(s) of 0 artist(s)" in again.stdout
    assert again.stdout.count("duplicate: already enrolled") == 3
    assert "enrolment quality of 2 artist(s), 2 with warnings" in again.stdout


def test_list_shows_the_artists_with_their_reference_counts(workspace, first_import):
    listed = soundscape("artists", "list", env=cli_env(workspace))
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("  ")[0].strip(): line.split() for line in listed.stdout.splitlines()[1:]}
    assert set(rows) == {"Anders Lankford", "Heather Barnett"}
    assert rows["Heather Barnett"][2] == "1"


def test_analyze_names_the_enrolled_artist_from_another_part_of_the_recording(
    workspace, first_import
):
    probe = cut(AUDIO_DIR / SPEECH[0], workspace / "probe.flac", ENROL_SECONDS)
    result = soundscape("analyze", str(probe), "--json", env=cli_env(workspace))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    top = report["artist_matches"][0]
    assert top["name"] == "Heather Barnett" and top["match"] is True
    assert report["identification"]["gallery_size"] == 2
    assert report["models"]["speaker_encoder"]["name"] == "resemblyzer-ge2e"


def test_analyze_with_no_gallery_says_why_there_are_no_matches(tmp_path):
    probe = cut(AUDIO_DIR / SPEECH[0], tmp_path / "probe.flac", ENROL_SECONDS)
    result = soundscape("analyze", str(probe), "--json", env=cli_env(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["artist_matches"] == []
    assert report["identification"]["reason"].startswith("the artist gallery is empty")
    assert not (tmp_path / "data" / "soundscape.db").exists()  # nothing created to read it


def test_remove_takes_an_artist_out_and_an_unknown_name_is_one_line(workspace, first_import):
    removed = soundscape("artists", "remove", "Anders Lankford", env=cli_env(workspace))
    assert removed.returncode == 0 and removed.stdout.strip() == "removed Anders Lankford"
    missing = soundscape("artists", "remove", "Nobody", env=cli_env(workspace))
    assert missing.returncode == 1
    assert missing.stderr.strip() == "soundscape artists: error: no artist named 'Nobody'"
    listed = soundscape("artists", "list", env=cli_env(workspace)).stdout
    assert "Anders Lankford" not in listed and "Heather Barnett" in listed


def test_import_of_a_missing_folder_is_one_line(tmp_path):
    result = soundscape("artists", "import", str(tmp_path / "nope"), env=cli_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().endswith("is not a folder of artist folders")
