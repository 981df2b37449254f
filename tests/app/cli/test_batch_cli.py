"""``soundscape keys`` rotation and ``soundscape batch`` against ``soundscape serve`` on the
embedded default (SQLite, a local folder, the filesystem broker), as against production."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.app.cli.test_cli import cli_env, running_serve, soundscape
from tests.conftest import make_tone_file


def test_keys_are_listed_and_a_revoked_one_is_marked(tmp_path):
    env = cli_env(tmp_path)
    soundscape("db", "upgrade", env=env, check=True)
    first = soundscape("keys", "create", "--tenant", "demo", env=env, check=True).stdout.strip()
    second = soundscape("keys", "create", "--tenant", "demo", env=env, check=True).stdout.strip()
    done = soundscape("keys", "revoke", first[:10], env=env, check=True)
    assert done.stdout.strip() == f"revoked {first[:10]}"
    listing = soundscape("keys", "list", "--tenant", "demo", env=env, check=True).stdout
    lines = listing.strip().splitlines()
    assert len(lines) == 2 and first not in listing and second not in listing
    assert lines[0].startswith(first[:10]) and "revoked" in lines[0]
    assert lines[1].startswith(second[:10]) and lines[1].endswith("active")


def test_revoking_an_unknown_key_is_one_line_and_exit_1(tmp_path):
    env = cli_env(tmp_path)
    soundscape("db", "upgrade", env=env, check=True)
    done = soundscape("keys", "revoke", "ss_nothing", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == "soundscape keys: error: no API key 'ss_nothing'"


def test_batch_submit_names_a_missing_path_in_one_line(tmp_path):
    done = soundscape("batch", "submit", str(tmp_path / "nope"), "--key", "k")
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_client_runs_a_folder_against_soundscape_serve(tmp_path, ffmpeg):
    env = cli_env(tmp_path)
    folder = tmp_path / "drop"
    folder.mkdir()
    for name in ("a.wav", "b.mp3"):
        make_tone_file(folder / name, seconds=2.0)
    (folder / "readme.txt").write_text("not audio")
    with running_serve(env) as base:
        key = soundscape("keys", "create", "--tenant", "demo", env=env, check=True).stdout.strip()
        wrong = soundscape("batch", "status", "x", "--server", base, "--key", "ss_wrong")
        assert wrong.returncode == 1 and "the API key is not valid" in wrong.stderr
        out = tmp_path / "results.jsonl"
        common = ["--server", base, "--key", key]
        done = soundscape(
            "batch", "submit", str(folder), *common, "--results", str(out), "--interval", "0.5",
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        # Uploads run in parallel, so submission order (the export's order) is the order the
        # server took them in; both exports must agree on it.
        by_id = {r["custom_id"]: r for r in rows}
        assert len(rows) == 3 and sorted(by_id) == ["a.wav", "b.mp3", "readme.txt"]
        assert [by_id[n]["status"] for n in sorted(by_id)] == ["succeeded", "succeeded", "failed"]
        assert by_id["readme.txt"]["error_code"] == "not_audio" and by_id["a.wav"]["verdict"]
        batch_id = done.stdout.split()[0]
        status = json.loads(soundscape("batch", "status", batch_id, *common, check=True).stdout)
        assert status["status"] == "completed" and status["counts"]["succeeded"] == 2
        table = soundscape("batch", "results", batch_id, "--format", "csv", *common, check=True)
        csv_ids = [r["custom_id"] for r in csv.DictReader(io.StringIO(table.stdout))]
        assert csv_ids == [r["custom_id"] for r in rows]
        again = soundscape("batch", "submit", str(folder), *common, check=True)
        assert "already completed: nothing sent" in again.stderr
