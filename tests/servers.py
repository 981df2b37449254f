"""Throwaway PostgreSQL and Redis servers on free local ports, in a folder of their own.

The fault tests start, stop and restart them (never the shared servers), and
scripts/test.sh starts a pair when none answers on the configured addresses:

    python -m tests.servers start FOLDER   # prints SOUNDSCAPE_TEST_PG=... and _REDIS=...
    python -m tests.servers stop FOLDER
    python -m tests.servers answers URL    # exit 0 when something listens there
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

# PostgreSQL refuses to run as root: as root, its folder and process belong to this user.
PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def postgres_bin(name: str) -> str:
    """A PostgreSQL server program: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not candidates:
        raise FileNotFoundError(
            f"{name} not found: install PostgreSQL (Debian: apt-get install postgresql)"
        )
    return candidates[-1]


class PostgresServer:
    """A PostgreSQL cluster in ``folder`` on ``port``, user ``postgres``, trust auth."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder, self.port = Path(folder), port or free_port()
        self.data = self.folder / "pgdata"
        self.user = PG_USER if os.geteuid() == 0 else None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *cmd: str) -> None:
        subprocess.run(cmd, check=True, capture_output=True, user=self.user)

    def init(self) -> PostgresServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            shutil.chown(self.folder, self.user)
        self._run(postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        return self

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "postgres.log"),
            "-w",
            "start",
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


class RedisServer:
    """A Redis server on ``port`` that keeps nothing on disk: a restart loses every message,
    the worst a broker outage can do."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder, self.port = Path(folder), port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("redis-server")
        if exe is None:
            raise FileNotFoundError(
                "redis-server not found: install Redis (Debian: apt-get install redis-server)"
            )
        cmd = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "no", "--dir", str(self.folder)]
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        (self.folder / "redis.pid").write_text(str(self.process.pid))
        _wait(lambda: _answers(self.port), 20, f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None
        _wait(lambda: not _answers(self.port), 20, f"redis-server on {self.port} to stop")


def start_pair(folder: Path) -> dict[str, str]:
    """Start PostgreSQL and Redis for a test run; their addresses as test settings."""
    postgres = PostgresServer(folder / "postgres").init().start()
    redis = RedisServer(folder / "redis").start()
    return {"SOUNDSCAPE_TEST_PG": postgres.admin_url, "SOUNDSCAPE_TEST_REDIS": redis.url}


def stop_pair(folder: Path) -> None:
    postgres = PostgresServer(folder / "postgres")
    postgres.stop()
    pid_file = folder / "redis" / "redis.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


def answers(url: str) -> bool:
    """Something listens at the host and port of ``url``."""
    parsed = urlparse(url)
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((parsed.hostname or "127.0.0.1", parsed.port or 0)) == 0


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "answers":
        return 0 if answers(argv[1]) else 1
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.servers start|stop FOLDER | answers URL", file=sys.stderr)
        return 2
    folder = Path(argv[1])
    if argv[0] == "start":
        for key, value in start_pair(folder).items():
            print(f"{key}={value}")
    else:
        stop_pair(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
