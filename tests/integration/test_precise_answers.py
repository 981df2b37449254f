"""#22 item 8 against the deployed API (gunicorn, PostgreSQL, Redis, S3): two files in one
request, and a form field over its limit, each get their own answer and store nothing.
(Item 7's address rule is tested through the app in tests/app/test_manifest.py: this
deployment allows private URLs, which its other tests fetch from local servers.)"""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import func, select

from app.db import session_scope
from app.services.tenants import create_key
from app.tables import Job
from tests.integration.conftest import Stack
from tests.integration.test_batches import auth

pytestmark = pytest.mark.integration


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
