"""docker-compose.yml cannot run here (no Docker engine): check its shape and that every
command it names exists in the project."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from app.cli import COMMANDS, build_parser
from app.config import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
ENTRYPOINT = (PROJECT_ROOT / "docker" / "entrypoint.sh").read_text()
OUR_SERVICES = ("api", "worker-cpu", "worker-gpu", "migrate")


def test_the_stack_has_every_service():
    assert set(COMPOSE["services"]) == {
        *OUR_SERVICES,
        "postgres",
        "redis",
        "minio",
        "createbuckets",
    }


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_each_role_is_one_the_entrypoint_knows(service):
    role = COMPOSE["services"][service]["command"][0]
    assert re.search(rf"^\s*{re.escape(role)}\)", ENTRYPOINT, re.M), role


def test_the_entrypoint_commands_exist():
    parser = build_parser()
    for line in re.findall(r"exec soundscape ([a-z]+ ?[a-z]*)", ENTRYPOINT):
        words = line.split()
        assert words[0] in COMMANDS, line
        if words[0] == "db":
            parser.parse_args(["db", *words[1:]])
    app = subprocess.run(
        [sys.executable, "-c", "import app.wsgi; print(app.wsgi.app.name)"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert app.stdout.strip() == "app"


def test_the_gpu_worker_reserves_a_gpu_and_runs_one_task_at_a_time():
    gpu = COMPOSE["services"]["worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]
    assert "--queues gpu --concurrency 1" in ENTRYPOINT


def test_redis_never_evicts_queued_jobs():
    assert "noeviction" in COMPOSE["services"]["redis"]["command"]


def test_migrate_runs_once_before_the_api():
    assert COMPOSE["services"]["migrate"]["restart"] == "no"
    assert (
        COMPOSE["services"]["api"]["depends_on"]["migrate"]["condition"]
        == "service_completed_successfully"
    )
