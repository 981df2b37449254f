"""#22 items 7 and 8 against the deployed API (gunicorn, PostgreSQL, Redis, S3): an inside
address is refused alike in a single job, a webhook and a batch manifest (by an API that,
as in production, does not allow private URLs: the test deployment allows them for its
local file servers); two files in one request, and a form field over its limit, each get
their own answer and store nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import func, select

from app.db import session_scope
from app.services.tenants import create_key
from app.tables import Job
from tests.app.test_manifest import INSIDE_URLS
from tests.integration.conftest import Stack
from tests.integration.test_batches import auth

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def strict(stack: Stack) -> Iterator[Stack]:
    """A second API process of the same deployment, with private URLs refused."""
    api = Stack({**stack.env, "SOUNDSCAPE_ALLOW_PRIVATE_URLS": "false"}, stack.settings, stack.logs)
    api.start_api()
    yield api
    api.stop()


def test_an_inside_address_is_refused_alike_in_a_job_a_webhook_and_a_manifest(strict, key):
    for url in INSIDE_URLS:
        for body in (
            {"source": {"url": url}},
            {"source": {"url": "http://8.8.8.8/a.mp3"}, "webhook_url": url},
        ):
            answer = requests.post(
                f"{strict.api_url}/v1/jobs", json=body, headers=auth(key), timeout=30
            )
            assert answer.status_code == 400 and "non-public" in answer.json()["detail"], body
    lines = [
        json.dumps({"custom_id": f"u{i}", "source": {"url": u}}) for i, u in enumerate(INSIDE_URLS)
    ]
    answer = requests.post(
        f"{strict.api_url}/v1/batches",
        files={"file": ("inside.jsonl", ("\n".join(lines) + "\n").encode())},
        headers=auth(key),
        timeout=60,
    )
    assert answer.status_code == 202, answer.text
    batch = requests.get(
        f"{strict.api_url}/v1/batches/{answer.json()['id']}", headers=auth(key), timeout=30
    ).json()
    assert batch["item_count"] == len(INSIDE_URLS) == batch["counts"]["failed"]


@pytest.fixture()
def key(stack: Stack) -> str:
    return create_key(stack.settings.database_url, "precise-answers")


def jobs_stored(stack: Stack) -> int:
    with session_scope(stack.settings.database_url) as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def test_two_files_in_one_request_are_400_and_nothing_is_stored(stack, key):
    before = jobs_stored(stack)
    response = requests.post(
        f"{stack.api_url}/v1/jobs",
        files=[("file", ("a.wav", b"RIFF0000WAVE")), ("file", ("b.wav", b"RIFF0000WAVE"))],
        headers=auth(key),
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["code"] == "too_many_files"
    assert jobs_stored(stack) == before


def test_metadata_over_the_field_limit_names_that_limit_not_the_upload_limit(stack, key):
    before = jobs_stored(stack)
    response = requests.post(
        f"{stack.api_url}/v1/jobs",
        files={"file": ("a.wav", b"RIFF0000WAVE")},
        data={"metadata": json.dumps({"notes": "x" * (1 << 20)})},
        headers=auth(key),
        timeout=30,
    )
    problem = response.json()
    assert response.status_code == 413 and problem["code"] == "form_field_too_large"
    assert "1048576" in problem["detail"] and "512" not in problem["detail"]
    assert jobs_stored(stack) == before
