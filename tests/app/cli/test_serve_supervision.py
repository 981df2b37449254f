"""`soundscape serve` supervises its worker: a killed worker comes back, /readyz says not
ready meanwhile, its work in flight runs again; SIGTERM stops every child and frees the port."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest
import requests

from tests.app.cli.test_cli import cli_env, soundscape, speech_clip, start_serve
from tests.integration.conftest import free_port, wait_until

pytestmark = pytest.mark.slow  # whole processes and real models


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, pending = set(), [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def worker_pid(serve_pid: int) -> int | None:
    """The Celery worker that serve started (a direct child running ``app.cli worker``)."""
    for pid in descendants(serve_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == serve_pid and b"worker" in cmd:
            return pid
    return None


def readiness(base: str) -> tuple[int, dict]:
    try:
        response = requests.get(f"{base}/readyz", timeout=5)
    except requests.RequestException:
        return 0, {}
    return response.status_code, response.json()


def in_flight(database: Path, job_id: str) -> bool:
    """A worker is inside a model stage of the job right now (heartbeat set)."""
    with sqlite3.connect(database) as conn:
        row = conn.execute(
            "SELECT stage, heartbeat_at FROM jobs WHERE id = ?", (job_id.replace("-", ""),)
        ).fetchone()
    return bool(row) and row[0] in ("separate", "detect") and row[1] is not None


def left_running(pids: set[int]) -> list[str]:
    """The processes of ``pids`` still alive, by command line (zombies are not running)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if state != "Z":
            alive.append(f"{pid}: {cmd}")
    return alive


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_killed_worker_is_restarted_and_its_job_finishes(audio_dir, tmp_path):
    env, port = cli_env(tmp_path), free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_serve(env, port)
    try:
        wait_until(
            lambda: readiness(base)[1].get("checks", {}).get("worker") == "ok", 120, "a live worker"
        )
        key = soundscape("keys", "create", "--tenant", "demo", env=env, check=True).stdout.strip()
        auth = {"Authorization": f"Bearer {key}"}
        with speech_clip(audio_dir, tmp_path, 8.0).open("rb") as fh:
            job = requests.post(
                f"{base}/v1/jobs", files={"file": fh}, headers=auth, timeout=30
            ).json()
        database = tmp_path / "data" / "soundscape.db"
        wait_until(lambda: in_flight(database, job["id"]), 180, "the job to be mid-stage", 0.1)
        first = worker_pid(server.pid)
        assert first is not None
        os.killpg(first, signal.SIGKILL)  # the worker and its pool child, mid-stage
        status, body = wait_until(lambda: (s := readiness(base))[0] == 503 and s, 20, "not ready")
        assert body["checks"]["worker"].startswith("unavailable")
        wait_until(lambda: readiness(base)[0] == 200, 120, "the restarted worker")
        assert worker_pid(server.pid) not in (None, first)
        done = wait_until(
            lambda: (
                (j := requests.get(f"{base}/v1/jobs/{job['id']}", headers=auth, timeout=10).json())[
                    "status"
                ]
                in ("succeeded", "failed")
                and j
            ),
            300,
            "the job to finish after the restart",
        )
        assert done["status"] == "succeeded", done["error"]
    finally:
        children = descendants(server.pid)
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    time.sleep(0.5)
    assert left_running(children) == []
    assert port_is_free(port)


def test_sigint_stops_serve_and_all_its_children(tmp_path):
    env, port = cli_env(tmp_path), free_port()
    server = start_serve(env, port)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: readiness(base)[1].get("checks", {}).get("worker") == "ok", 120, "ready")
    children = descendants(server.pid)
    assert len(children) >= 3  # gunicorn master and workers, the Celery worker and its pool
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=60) == 0
    time.sleep(0.5)
    assert left_running(children) == []
    assert port_is_free(port)
