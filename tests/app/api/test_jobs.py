"""The jobs API on the embedded default: SQLite, a local artifact folder, a filesystem broker."""

import io
import json
import uuid
from dataclasses import replace

import pytest

from app import create_app, jobstate
from app.db import session_scope
from app.services.tenants import create_key
from tests.conftest import make_tone_file


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def upload(client, key, data: bytes, name="track.wav", headers=None, **form):
    body = {"file": (io.BytesIO(data), name), **form}
    return client.post(
        "/v1/jobs",
        data=body,
        content_type="multipart/form-data",
        headers={**auth(key), **(headers or {})},
    )


@pytest.fixture()
def wav_bytes(tmp_path, ffmpeg) -> bytes:
    return make_tone_file(tmp_path / "tone.wav", seconds=1.0).read_bytes()


def show(client, key, job_id: str) -> dict:
    return client.get(f"/v1/jobs/{job_id}", headers=auth(key)).get_json()


def queued_messages(settings) -> int:
    """Messages waiting in the filesystem broker (its folder appears with the first one)."""
    folder = settings.broker_folder / "queue"
    return sum(1 for p in folder.iterdir() if p.is_file()) if folder.exists() else 0


def test_upload_answers_202_with_location_and_queues_the_job(
    client, api_key, wav_bytes, migrated_settings
):
    response = upload(client, api_key, wav_bytes)
    assert response.status_code == 202
    job = response.get_json()
    assert response.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["source"] == {
        "kind": "upload",
        "filename": "track.wav",
    }
    assert queued_messages(migrated_settings) == 1
    stored = migrated_settings.data_dir / "artifacts" / "tenants"
    assert [p.read_bytes() for p in stored.rglob("source")] == [wav_bytes]


def test_polling_returns_the_job(client, api_key, wav_bytes):
    job = upload(client, api_key, wav_bytes).get_json()
    polled = client.get(f"/v1/jobs/{job['id']}", headers=auth(api_key)).get_json()
    assert polled["id"] == job["id"] and polled["status"] == "queued"


def test_a_queued_job_shows_its_place_in_the_queue_and_a_running_one_none(
    client, api_key, wav_bytes, migrated_settings
):
    first, second = (upload(client, api_key, wav_bytes).get_json()["id"] for _ in range(2))
    assert [show(client, api_key, j)["queue_position"] for j in (first, second)] == [1, 2]
    with session_scope(migrated_settings.database_url) as session:
        jobstate.start_job(session, uuid.UUID(first), "ingest")
        assert show(client, api_key, first)["status"] == "queued"  # due, not begun
        assert jobstate.begin_stage(session, uuid.UUID(first), "ingest", 0.0)
    running, waiting = show(client, api_key, first), show(client, api_key, second)
    assert (running["status"], running["stage"], running["queue_position"]) == (
        "running",
        "ingest",
        None,
    )
    assert (waiting["status"], waiting["queue_position"]) == ("queued", 1)


def test_a_job_between_two_stages_says_which_stage_it_waits_for(
    client, api_key, wav_bytes, migrated_settings
):
    job_id = upload(client, api_key, wav_bytes).get_json()["id"]
    jid = uuid.UUID(job_id)
    with session_scope(migrated_settings.database_url) as session:
        jobstate.start_job(session, jid, "ingest")
        due = show(client, api_key, job_id)
        jobstate.begin_stage(session, jid, "ingest", 0.0)
        inside = show(client, api_key, job_id)
        jobstate.make_next_due(session, jid, "ingest", "separate", progress=1 / 6)
        between = show(client, api_key, job_id)
    assert (due["status"], due["stage"], due["waiting_for"]) == ("queued", None, "ingest")
    assert (inside["status"], inside["stage"], inside["waiting_for"]) == ("running", "ingest", None)
    assert (between["status"], between["stage"], between["waiting_for"]) == (
        "running",
        "ingest",
        "separate",
    )
    assert between["progress"] == 0.167


def test_requests_without_a_valid_key_are_401_problems(client, api_key):
    for headers in ({}, auth("ss_wrong")):
        response = client.get("/v1/jobs", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["code"] == "unauthorized"


def test_another_tenants_job_is_not_found(client, api_key, wav_bytes, migrated_settings):
    job = upload(client, api_key, wav_bytes).get_json()
    other = create_key(migrated_settings.database_url, "tenant-b")
    response = client.get(f"/v1/jobs/{job['id']}", headers=auth(other))
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    assert client.get("/v1/jobs", headers=auth(other)).get_json()["data"] == []


@pytest.mark.parametrize(
    "data,status,code",
    [
        (b"", 400, "empty_audio"),
        (b"just some text, not audio at all", 415, "not_audio"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01", 415, "unsupported_format"),
    ],
)
def test_bad_uploads_are_refused_at_submit_and_nothing_is_queued(
    client, api_key, migrated_settings, data, status, code
):
    response = upload(client, api_key, data)
    assert response.status_code == status
    problem = response.get_json()
    assert problem["code"] == code and problem["detail"] and problem["title"]
    assert queued_messages(migrated_settings) == 0


@pytest.mark.parametrize("second", ["file", "other"])
def test_an_upload_with_two_file_parts_is_refused_and_nothing_is_stored(
    client, api_key, wav_bytes, migrated_settings, second
):
    body = {"file": (io.BytesIO(wav_bytes), "a.wav")}
    if second == "file":
        body["file"] = [body["file"], (io.BytesIO(wav_bytes), "b.wav")]
    else:
        body[second] = (io.BytesIO(wav_bytes), "b.wav")
    response = client.post(
        "/v1/jobs", data=body, content_type="multipart/form-data", headers=auth(api_key)
    )
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "too_many_files" and "one file part" in problem["detail"]
    assert client.get("/v1/jobs", headers=auth(api_key)).get_json()["data"] == []
    assert queued_messages(migrated_settings) == 0
    assert not list((migrated_settings.data_dir / "artifacts").rglob("source"))


def test_an_upload_over_the_size_limit_is_413(migrated_settings, wav_bytes):
    from app import create_app

    small = replace(migrated_settings, max_upload_bytes=1000)
    client = create_app(small).test_client()
    key = create_key(small.database_url, "tenant-small")
    big = wav_bytes + b"\0" * (2 << 20)
    response = upload(client, key, big)
    assert response.status_code == 413 and response.get_json()["code"] == "file_too_large"
    assert queued_messages(small) == 0


def test_an_upload_one_byte_over_the_limit_is_413(migrated_settings, wav_bytes):
    from app import create_app

    exact = replace(migrated_settings, max_upload_bytes=len(wav_bytes) - 1)
    client = create_app(exact).test_client()
    key = create_key(exact.database_url, "tenant-exact")
    response = upload(client, key, wav_bytes)
    assert response.status_code == 413 and response.get_json()["code"] == "file_too_large"
    assert queued_messages(exact) == 0


def test_metadata_over_the_form_field_limit_is_413_naming_that_limit(
    client, api_key, wav_bytes, migrated_settings
):
    metadata = json.dumps({"notes": "x" * (1 << 20)})
    response = upload(client, api_key, wav_bytes, metadata=metadata)
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["code"] == "form_field_too_large"
    assert "1048576" in problem["detail"] and "metadata" in problem["detail"]
    assert str(migrated_settings.max_upload_bytes) not in problem["detail"]
    assert queued_messages(migrated_settings) == 0


def test_with_the_broker_down_a_submit_is_503_and_nothing_is_kept(migrated_settings, wav_bytes):
    from app import create_app

    down = replace(migrated_settings, broker_url="redis://127.0.0.1:1/0")
    client = create_app(down).test_client()
    key = create_key(down.database_url, "tenant-down")
    response = upload(client, key, wav_bytes)
    assert response.status_code == 503 and response.get_json()["code"] == "queue_unavailable"
    assert client.get("/v1/jobs", headers=auth(key)).get_json()["data"] == []
    assert not list((down.data_dir / "artifacts").rglob("source"))


def test_a_json_submission_needs_exactly_one_source(client, api_key):
    for body in (
        {},
        {"source": {}},
        {"source": {"url": "x", "s3_key": "y"}},
        {"source": {"ftp": "x"}},
    ):
        response = client.post("/v1/jobs", json=body, headers=auth(api_key))
        assert response.status_code == 400, body
        assert response.get_json()["code"] == "invalid_request"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.mp3",
        "http://localhost:8000/a.mp3",
        "http://[::1]/a.mp3",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/a.mp3",
        "http://0x7f.1/a.mp3",
        "http://[::127.0.0.1]/a.mp3",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://[2002:7f00:1::]/a.mp3",
        "http://2130706433/a.mp3",
        "http://224.0.0.1/a.mp3",
        "http://[fec0::1]/a.mp3",
    ],
)
def test_urls_into_private_networks_are_refused(client, api_key, url):
    response = client.post("/v1/jobs", json={"source": {"url": url}}, headers=auth(api_key))
    assert response.status_code == 400 and "non-public" in response.get_json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/a.mp3",
        "http://h:abc/",
        "http://[::1/a",
        "ftp://example.com/a.mp3",
        "/relative.mp3",
    ],
)
def test_malformed_urls_are_400_not_500(client, api_key, url):
    response = client.post("/v1/jobs", json={"source": {"url": url}}, headers=auth(api_key))
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_request"


def test_an_s3_key_outside_the_tenant_is_not_found(client, api_key):
    response = client.post(
        "/v1/jobs", json={"source": {"s3_key": "tenants/other/x.mp3"}}, headers=auth(api_key)
    )
    assert response.status_code == 404


def test_listing_is_newest_first_with_a_cursor_and_a_status_filter(client, api_key, wav_bytes):
    ids = [upload(client, api_key, wav_bytes).get_json()["id"] for _ in range(5)]
    client.post(f"/v1/jobs/{ids[0]}/cancel", headers=auth(api_key))
    first = client.get("/v1/jobs?limit=2", headers=auth(api_key)).get_json()
    second = client.get(
        f"/v1/jobs?limit=2&cursor={first['next_cursor']}", headers=auth(api_key)
    ).get_json()
    third = client.get(
        f"/v1/jobs?limit=2&cursor={second['next_cursor']}", headers=auth(api_key)
    ).get_json()
    seen = [job["id"] for page in (first, second, third) for job in page["data"]]
    assert seen == ids[::-1] and third["next_cursor"] is None
    canceled = client.get("/v1/jobs?status=canceled", headers=auth(api_key)).get_json()["data"]
    assert [job["id"] for job in canceled] == [ids[0]]


def test_listing_rejects_unknown_status_and_bad_cursor(client, api_key):
    assert client.get("/v1/jobs?status=done", headers=auth(api_key)).status_code == 400
    assert client.get("/v1/jobs?cursor=garbage!", headers=auth(api_key)).status_code == 400


def test_cancel_marks_a_queued_job_canceled_and_a_second_cancel_is_harmless(
    client, api_key, wav_bytes
):
    job = upload(client, api_key, wav_bytes).get_json()
    for _ in range(2):
        response = client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth(api_key))
        assert response.status_code == 200 and response.get_json()["status"] == "canceled"


def test_repeating_a_request_with_its_idempotency_key_returns_the_first_job(
    client, api_key, wav_bytes, migrated_settings
):
    headers = {"Idempotency-Key": "abc-123"}
    first = upload(client, api_key, wav_bytes, headers=headers).get_json()
    again = upload(client, api_key, wav_bytes, headers=headers)
    assert again.status_code == 202 and again.get_json()["id"] == first["id"]
    assert queued_messages(migrated_settings) == 1
    different = upload(client, api_key, wav_bytes + b"\0\0", headers=headers)
    assert different.status_code == 422
    assert different.get_json()["code"] == "idempotency_key_reused"


def test_metadata_must_be_a_json_object(client, api_key, wav_bytes):
    response = upload(client, api_key, wav_bytes, metadata="[1, 2]")
    assert response.status_code == 400
    ok = upload(client, api_key, wav_bytes, metadata=json.dumps({"isrc": "USRC17607839"}))
    assert ok.get_json()["metadata"] == {"isrc": "USRC17607839"}


def test_health_and_readiness_on_the_embedded_default(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok"}


def test_readiness_names_the_dependency_that_is_down(migrated_settings):
    from app import create_app

    broken = replace(migrated_settings, database_url="postgresql+psycopg://nobody@127.0.0.1:1/x")
    response = create_app(broken).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("unavailable")


def test_openapi_describes_every_route(client):
    spec = client.get("/openapi.json").get_json()
    rules = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in client.application.url_map.iter_rules()
        if rule.endpoint != "static"
    }
    assert rules == set(spec["paths"])


def test_metrics_expose_job_counts(client, api_key, wav_bytes):
    upload(client, api_key, wav_bytes)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'soundscape_jobs{status="queued"} 1.0' in text


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.8/hook",
        "http://[64:ff9b::7f00:1]/hook",
        "http://239.255.255.250:1900/hook",
        "http://[fec0::1]/hook",
    ],
)
def test_a_webhook_url_into_a_private_network_is_refused(client, api_key, wav_bytes, url):
    response = upload(client, api_key, wav_bytes, webhook_url=url)
    assert response.status_code == 400
    assert "webhook_url resolves to a non-public address" in response.get_json()["detail"]


def test_a_job_without_options_gets_the_deployments_vocal_detector_choice(
    client, api_key, wav_bytes, migrated_settings
):
    assert upload(client, api_key, wav_bytes).get_json()["options"] == {"vocal_detector": False}
    on = create_app(replace(migrated_settings, run_vocal_detector=True)).test_client()
    assert upload(on, api_key, wav_bytes).get_json()["options"] == {"vocal_detector": True}


def test_a_job_can_turn_the_vocal_detector_on_in_a_form_or_a_json_body(client, api_key, wav_bytes):
    options = json.dumps({"vocal_detector": True})
    job = upload(client, api_key, wav_bytes, options=options).get_json()
    assert job["options"] == {"vocal_detector": True}
    polled = client.get(f"/v1/jobs/{job['id']}", headers=auth(api_key)).get_json()
    assert polled["options"] == {"vocal_detector": True}
    remote = client.post(
        "/v1/jobs",
        json={"source": {"url": "http://93.184.216.34/a.mp3"}, "options": {"vocal_detector": True}},
        headers=auth(api_key),
    )
    assert remote.status_code == 202 and remote.get_json()["options"] == {"vocal_detector": True}


@pytest.mark.parametrize(
    ("options", "detail"),
    [
        ("[true]", "options must be a JSON object"),
        ('{"vocal_detector": "yes"}', "options.vocal_detector must be true or false"),
        ('{"speech": true}', "unknown option 'speech'; the options are: vocal_detector"),
        ("{not json", "options"),
    ],
)
def test_bad_options_are_400_naming_the_problem(client, api_key, wav_bytes, options, detail):
    response = upload(client, api_key, wav_bytes, options=options)
    assert response.status_code == 400
    assert detail in response.get_json()["detail"]


def test_options_are_part_of_the_idempotent_request(client, api_key, wav_bytes):
    headers = {"Idempotency-Key": "options-1"}
    first = upload(client, api_key, wav_bytes, headers=headers)
    assert first.status_code == 202
    other = upload(client, api_key, wav_bytes, headers=headers, options='{"vocal_detector": true}')
    assert other.status_code == 422
