"""Input that once gave 500s or left objects behind: refused with a 400 before anything is
stored; an unreachable database or storage is a 503 naming it; orphans are swept."""

import io
import json
import os
import time
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from app import create_app
from app.db import get_sessionmaker, session_scope
from app.orphans import sweep_orphans
from app.services.tenants import create_key
from app.storage import job_key, make_storage
from app.tables import Job, Tenant
from tests.app.api.test_jobs import auth, queued_messages, upload
from tests.conftest import make_tone_file

CLOSED_PORT_DB = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
CLOSED_PORT_S3 = "http://127.0.0.1:1"


@pytest.fixture()
def wav_bytes(tmp_path, ffmpeg) -> bytes:
    return make_tone_file(tmp_path / "tone.wav", seconds=1.0).read_bytes()


def stored_objects(settings) -> list[str]:
    root = settings.data_dir / "artifacts"
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


def job_rows(settings) -> int:
    with session_scope(settings.database_url) as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def deep(levels: int) -> str:
    return '{"x": ' + "[" * levels + "]" * levels + "}"


@pytest.mark.parametrize(
    "form",
    [
        {"metadata": '{"x": NaN}'},
        {"metadata": '{"x": Infinity}'},
        {"metadata": '{"x": -Infinity}'},
        {"metadata": '{"x": "a\\u0000b"}'},
        {"metadata": '{"a\\u0000": 1}'},
        {"metadata": '{"x": "\\ud800"}'},
        {"metadata": deep(5000)},
        {"metadata": deep(40)},
        {"metadata": "[1, 2]"},
        {"metadata": "{not json"},
        {"webhook_url": "http://8.8.8.8/" + "a" * 2100},
        {"webhook_url": "http://8.8.8.8/\x00"},
    ],
    ids=lambda form: next(iter(form.values()))[:24],
)
def test_bad_fields_are_400_and_nothing_is_stored(
    client, api_key, migrated_settings, wav_bytes, form
):
    response = upload(client, api_key, wav_bytes, **form)
    assert response.status_code == 400, response.get_data(as_text=True)
    problem = response.get_json()
    assert problem["code"] == "invalid_request" and problem["detail"]
    assert stored_objects(migrated_settings) == [] and job_rows(migrated_settings) == 0
    assert queued_messages(migrated_settings) == 0


@pytest.mark.parametrize("name", ["a\x00b.wav", "tab\there.wav", "x" * 300 + ".wav"])
def test_a_bad_file_name_is_400_and_nothing_is_stored(
    client, api_key, migrated_settings, wav_bytes, name
):
    response = upload(client, api_key, wav_bytes, name=name)
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_request"
    assert "file name" in response.get_json()["detail"]
    assert stored_objects(migrated_settings) == [] and job_rows(migrated_settings) == 0


def test_a_json_body_with_nan_or_deep_nesting_is_400(client, api_key):
    for raw in (
        '{"source": {"url": "http://8.8.8.8/a.mp3"}, "metadata": {"x": NaN}}',
        '{"source": {"url": "http://8.8.8.8/a.mp3"}, "metadata": ' + deep(5000) + "}",
        '{"source": {"url": "http://8.8.8.8/a\\u0000.mp3"}}',
    ):
        response = client.post(
            "/v1/jobs", data=raw, content_type="application/json", headers=auth(api_key)
        )
        assert response.status_code == 400, raw[:60]
        assert response.get_json()["code"] == "invalid_request"


def test_accepted_metadata_comes_back_as_plain_json(client, api_key, wav_bytes):
    metadata = {"isrc": "GBAYE0000351", "tags": ["a", {"b": 1.5}], "n": None}
    job = upload(client, api_key, wav_bytes, metadata=json.dumps(metadata)).get_json()
    shown = client.get(f"/v1/jobs/{job['id']}", headers=auth(api_key))
    assert json.loads(shown.get_data(as_text=True))["metadata"] == metadata


def test_a_file_name_that_is_not_utf8_is_named_as_the_problem(client, api_key, wav_bytes):
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="file"; filename="caf\xe9.wav"\r\n'
        b"Content-Type: audio/wav\r\n\r\n" + wav_bytes + b"\r\n--XX--\r\n"
    )
    response = client.post(
        "/v1/jobs",
        data=body,
        content_type="multipart/form-data; boundary=XX",
        headers=auth(api_key),
    )
    assert response.status_code == 400
    assert "not UTF-8" in response.get_json()["detail"]


def test_with_the_database_down_submit_and_read_are_503_naming_it(migrated_settings, wav_bytes):
    down = replace(migrated_settings, database_url=CLOSED_PORT_DB)
    client = create_app(down).test_client()
    for response in (
        upload(client, "ss_anykey", wav_bytes),
        client.get(f"/v1/jobs/{uuid.uuid4()}", headers=auth("ss_anykey")),
    ):
        assert response.status_code == 503
        assert response.get_json()["code"] == "database_unavailable"
    assert stored_objects(migrated_settings) == []


def test_with_storage_down_a_submit_is_503_naming_it_and_no_row_is_kept(
    migrated_settings, wav_bytes
):
    down = replace(migrated_settings, storage_url="s3://nowhere/x", s3_endpoint_url=CLOSED_PORT_S3)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    client = create_app(down).test_client()
    key = create_key(down.database_url, "tenant-s3-down")
    response = upload(client, key, wav_bytes)
    assert response.status_code == 503 and response.get_json()["code"] == "storage_unavailable"
    assert job_rows(down) == 0 and queued_messages(down) == 0


def test_a_commit_that_fails_after_the_upload_removes_the_stored_object(
    client, api_key, migrated_settings, wav_bytes
):
    def refuse(_session):  # the database connection drops between upload and commit
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    factory = get_sessionmaker(migrated_settings.database_url)
    event.listen(factory, "before_commit", refuse)
    try:
        response = upload(client, api_key, wav_bytes)
    finally:
        event.remove(factory, "before_commit", refuse)
    assert response.status_code == 503 and response.get_json()["code"] == "database_unavailable"
    assert stored_objects(migrated_settings) == [] and job_rows(migrated_settings) == 0


def test_the_sweep_deletes_old_objects_without_a_job_row_only(migrated_settings):
    storage = make_storage(migrated_settings)
    with session_scope(migrated_settings.database_url) as session:
        tenant = Tenant(name="sweep")
        session.add(tenant)
        session.flush()
        kept_job = Job(tenant_id=tenant.id, source={"kind": "upload"}, attempts=0)
        session.add(kept_job)
        session.flush()
        tenant_id, kept_id = tenant.id, kept_job.id
    orphan_id = uuid.uuid4()
    keys = {
        "orphan": job_key(tenant_id, orphan_id, "source"),
        "orphan_fresh": job_key(tenant_id, uuid.uuid4(), "source"),
        "owned": job_key(tenant_id, kept_id, "canonical.flac"),
        "client_object": f"tenants/{tenant_id}/uploads/{orphan_id}.mp3",
        "dead_partial": job_key(tenant_id, kept_id, ".source.0a1b.part"),
    }
    for key in keys.values():
        storage.put_stream(key, io.BytesIO(b"x"), "application/octet-stream")
    hour_ago = time.time() - 2 * 3600
    root = migrated_settings.data_dir / "artifacts"
    for name in ("orphan", "owned", "client_object", "dead_partial"):
        os.utime(root / keys[name], (hour_ago, hour_ago))
    deleted = sweep_orphans(get_sessionmaker(migrated_settings.database_url), storage, 3600)
    assert sorted(deleted) == sorted([keys["orphan"], keys["dead_partial"]])
    left = {key for key, _ in storage.list_objects("tenants/")}
    assert left == {keys["orphan_fresh"], keys["owned"], keys["client_object"]}
