"""The real stack for integration tests: PostgreSQL, Redis, moto_server as S3, gunicorn and
Celery worker processes. A missing service fails the tests with a message naming it."""

from __future__ import annotations

import http.server
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
import requests

from app.config import PROJECT_ROOT, Settings, load_settings
from tests.conftest import WEIGHTS_DIR
from tests.servers import RedisServer

PG_ADMIN_URL = os.environ.get("SOUNDSCAPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_SERVER = os.environ.get("SOUNDSCAPE_TEST_REDIS", "redis://127.0.0.1:6379")
CLAIM_KEY = "soundscape-test-session"
BUCKET = "soundscape-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check, timeout: float, what: str, interval: float = 0.25) -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    import psycopg

    name = f"soundscape_it_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); start it first")
    server = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
    yield f"{server}/{name}"
    from app.db import get_engine

    get_engine.cache_clear()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database of this test session's own: two sessions on one server (parallel CI
    jobs, two developers) would otherwise consume each other's messages."""
    import redis

    for db in range(1, 16):
        try:
            client = redis.Redis.from_url(f"{REDIS_SERVER}/{db}", socket_connect_timeout=3)
            if not client.set(CLAIM_KEY, os.getpid(), nx=True, ex=3 * 3600):
                continue
        except redis.ConnectionError as exc:
            pytest.fail(f"Redis is not reachable at {REDIS_SERVER} ({exc}); start it first")
        for key in client.scan_iter():
            if key != CLAIM_KEY.encode():
                client.delete(key)
        yield f"{REDIS_SERVER}/{db}"
        client.flushdb()
        return
    pytest.fail(f"every Redis database on {REDIS_SERVER} is claimed by another test session")


@pytest.fixture(scope="module")
def broker() -> Iterator[RedisServer]:
    """A Redis server of the module's own (tests.servers), which its tests may stop."""
    folder = Path(tempfile.mkdtemp(prefix="soundscape-outage-"))
    server = RedisServer(folder).start()
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A database of the module's own: another stack's publisher must not send its jobs'
    stages to another broker."""
    import psycopg

    from app.db import get_engine

    name = f"soundscape_it_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    server = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]
    yield f"{server}/{name}"
    get_engine.cache_clear()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    exe = Path(sys.executable).with_name("moto_server")
    if not exe.exists():
        pytest.fail("moto_server is not installed: run scripts/setup.sh (moto[server])")
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(url), 30, "moto_server to start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
        return True
    except requests.RequestException:
        return False


class Stack:
    """The processes of one SoundScape deployment, pointed at the real services."""

    def __init__(self, env: dict[str, str], settings: Settings, logs: Path) -> None:
        self.env, self.settings, self.logs = env, settings, logs
        self.worker: subprocess.Popen[bytes] | None = None
        # Workers started as the deployment starts them (``start_role``), by role.
        self.roles: dict[str, subprocess.Popen[bytes]] = {}
        self.api: subprocess.Popen[bytes] | None = None
        self.api_url = ""

    def start_api(self) -> None:
        port = free_port()
        self.api = self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "app.wsgi:app",
                "-b",
                f"127.0.0.1:{port}",
                "-w",
                "2",
            ],
        )
        self.api_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(self.api_url + "/healthz"), 60, "gunicorn to start")

    def start_worker(self, *options: str) -> None:
        """A worker of both queues; ``options``: more ``soundscape worker`` options."""
        self.worker = self._spawn(
            "worker",
            [
                sys.executable,
                "-m",
                "app.cli",
                "worker",
                "--queues",
                "cpu,gpu",
                "--loglevel",
                "INFO",
                *options,
            ],
        )

    def start_role(self, role: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        """Start a worker with the options of docker/entrypoint.sh's ``role`` (worker-cpu,
        worker-gpu): the processes a deployment runs, not a test's own mix; ``prefix``
        wraps the command (``unshare``: a container's own PID namespace)."""
        cmd = [*prefix, sys.executable, "-m", "app.cli", "worker", *deployed_worker_args(role)]
        self.roles[role] = self._spawn(role, cmd)
        return self.roles[role]

    def ensure_worker(self) -> None:
        if self.worker is None or self.worker.poll() is not None:
            self.start_worker()

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool children: no chance to ack or clean up."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.worker.wait(timeout=10)

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}-{time.monotonic_ns()}.log").open("wb")
        return subprocess.Popen(
            cmd,
            env=self.env,
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        for proc in (self.worker, *self.roles.values(), self.api):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def deployed_worker_args(role: str) -> list[str]:
    """The ``soundscape worker`` options that docker/entrypoint.sh gives ``role``, with its
    ``${NAME:-default}`` variables at their defaults."""
    script = (PROJECT_ROOT / "docker" / "entrypoint.sh").read_text()
    found = re.search(
        rf"^\s*{re.escape(role)}\)\s*exec soundscape worker (.*?) \"\$@\"", script, re.M
    )
    if found is None:
        raise LookupError(f"docker/entrypoint.sh starts no worker for the role {role}")
    line = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", found.group(1))
    return shlex.split(line)


def stack_env(
    data_dir: Path, postgres_url: str, redis_url: str, s3_endpoint: str, **overrides: str
) -> dict[str, str]:
    """The environment of a deployment on the given servers; ``overrides`` are settings."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONUNBUFFERED": "1",
    }
    values = {
        "data_dir": str(data_dir),
        "database_url": postgres_url,
        "broker_url": redis_url,
        "storage_url": f"s3://{BUCKET}/it",
        "s3_endpoint_url": s3_endpoint,
        "weights_dir": str(WEIGHTS_DIR),
        "device": "cpu",
        "allow_private_urls": "true",
        # Short limits so a killed worker's message comes back within seconds.
        "visibility_timeout": "45",
        "stage_soft_time_limit": "30",
        "stage_hard_time_limit": "40",
        "webhook_backoff_seconds": "0.5",
        **overrides,
    }
    return env | {"SOUNDSCAPE_" + key.upper(): value for key, value in values.items()}


def start_stack(env: dict[str, str], data_dir: Path, worker: bool = True) -> Stack:
    """Create the bucket, migrate, start gunicorn and (unless told not to) a worker of
    both queues."""
    import boto3

    from app.db import upgrade

    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    settings = load_settings(env)
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url)
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    upgrade(settings.database_url)
    running = Stack(env, settings, data_dir)
    running.start_api()
    if worker:
        running.start_worker()
    return running


@pytest.fixture(scope="session")
def stack(postgres_url, redis_url, s3_endpoint, tmp_path_factory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    running = start_stack(stack_env(data_dir, postgres_url, redis_url, s3_endpoint), data_dir)
    yield running
    running.stop()


ROLES = ("worker-cpu", "worker-gpu")


def start_roles(env: dict[str, str], data_dir: Path) -> Stack:
    """A stack whose workers are the two that docker/entrypoint.sh's roles start."""
    running = start_stack(env, data_dir, worker=False)
    for role in ROLES:
        running.start_role(role)
    return running


class LocalServer:
    """A client's HTTP server (a file host, a webhook receiver) on a free local port,
    serving from a thread inside ``with``; leaving sets ``release``, so that a request the
    handler holds ends, and shuts the server down."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler], path: str) -> None:
        self.release = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> Self:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
