"""The batches API on the embedded default: intake, manifests with bad lines, uploads,
the per-tenant cap, completion, cancel, results export, tenants, rate limit, key revocation."""

import csv
import io
import json
import uuid
from dataclasses import replace

import pytest
from sqlalchemy import select

from app import batchstate, jobstate
from app.db import session_scope
from app.services import batches as service
from app.services.tenants import create_key, revoke_key
from app.tables import Job
from tests.app.api.test_jobs import auth, queued_messages
from tests.conftest import make_tone_file


@pytest.fixture()
def wav_bytes(tmp_path, ffmpeg) -> bytes:
    return make_tone_file(tmp_path / "tone.wav", seconds=1.0).read_bytes()


def make_client(settings, **changes):
    from app import create_app

    return create_app(replace(settings, **changes)).test_client()


def url_items(n: int, start: int = 0) -> list[dict]:
    return [
        {"custom_id": f"track-{i}", "source": {"url": f"https://example.com/{i}.mp3"}}
        for i in range(start, start + n)
    ]


def create(client, key, body=None, headers=None):
    return client.post("/v1/batches", json=body, headers={**auth(key), **(headers or {})})


def send_manifest(client, key, text: str | bytes, name: str, **form):
    data = text.encode() if isinstance(text, str) else text
    body = {"file": (io.BytesIO(data), name), **form}
    return client.post(
        "/v1/batches", data=body, content_type="multipart/form-data", headers=auth(key)
    )


def add_upload(client, key, batch_id, data: bytes, custom_id: str, query: bool = False):
    body = {"file": (io.BytesIO(data), custom_id.rsplit("/", 1)[-1])}
    if not query:
        body["custom_id"] = custom_id
    return client.post(
        f"/v1/batches/{batch_id}/items" + (f"?custom_id={custom_id}" if query else ""),
        data=body,
        content_type="multipart/form-data",
        headers=auth(key),
    )


def items(client, key, batch_id, **params) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in {"limit": 1000, **params}.items())
    answer = client.get(f"/v1/batches/{batch_id}/items?{query}", headers=auth(key))
    assert answer.status_code == 200, answer.get_json()
    return list(answer.get_json()["data"])


def results(client, key, batch_id, fmt="jsonl") -> list[dict]:
    answer = client.get(f"/v1/batches/{batch_id}/results?format={fmt}", headers=auth(key))
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


def test_a_json_batch_is_stored_in_order_and_only_the_cap_is_started(migrated_settings, api_key):
    client = make_client(migrated_settings, batch_max_in_flight=3)
    answer = create(client, api_key, {"items": url_items(10), "metadata": {"week": 48}})
    assert answer.status_code == 202
    batch = answer.get_json()
    assert answer.headers["Location"] == f"/v1/batches/{batch['id']}"
    assert batch["status"] == "running" and batch["item_count"] == 10
    assert batch["counts"]["queued"] == 3 and batch["counts"]["pending"] == 7
    assert queued_messages(migrated_settings) == 3
    listed = items(client, api_key, batch["id"])
    assert [i["custom_id"] for i in listed] == [f"track-{i}" for i in range(10)]
    assert [i["status"] for i in listed[:4]] == ["queued"] * 3 + ["pending"]


def test_batch_counts_show_an_item_queued_until_its_first_stage_begins(migrated_settings, api_key):
    client = make_client(migrated_settings, batch_max_in_flight=2)
    batch = create(client, api_key, {"items": url_items(2)}).get_json()
    with session_scope(migrated_settings.database_url) as session:
        first, second = session.scalars(
            select(Job.id).where(Job.batch_id == uuid.UUID(batch["id"])).order_by(Job.created_at)
        ).all()
        jobstate.start_job(session, first, "ingest")
        jobstate.start_job(session, second, "ingest")
        assert jobstate.begin_stage(session, first, "ingest", 0.0)

    def counts() -> dict:
        return client.get(f"/v1/batches/{batch['id']}", headers=auth(api_key)).get_json()["counts"]

    assert (counts()["running"], counts()["queued"]) == (1, 1)
    assert [i["status"] for i in items(client, api_key, batch["id"])] == ["running", "queued"]


def test_an_item_ending_starts_the_next_and_the_last_completes_the_batch(
    migrated_settings, api_key
):
    settings = replace(migrated_settings, batch_max_in_flight=2)
    client = make_client(settings)
    batch = create(client, api_key, {"items": url_items(3)}).get_json()
    batch_id = uuid.UUID(batch["id"])
    for _ in range(3):
        with session_scope(settings.database_url) as session:
            job = session.scalars(
                select(Job).where(Job.batch_id == batch_id, Job.status == "queued")
            ).first()
            assert job is not None
            jobstate.start_job(session, job.id, "ingest")
            jobstate.begin_stage(session, job.id, "ingest", 0.0)  # the job runs
            jobstate.succeed_job(session, job.id, {"verdict": "likely_authentic"})
            service.advance(session, settings, job.tenant_id, batch_id)
    done = client.get(f"/v1/batches/{batch_id}", headers=auth(api_key)).get_json()
    assert done["status"] == "completed" and done["finished_at"]
    assert done["counts"]["succeeded"] == 3 and done["progress"] == 1.0


def test_a_csv_manifest_with_bad_lines_fails_those_lines_only(migrated_settings, api_key):
    client = make_client(migrated_settings)
    tenant_space = _tenant_space(migrated_settings, api_key)
    manifest = "\n".join(
        [
            "custom_id,url,s3_key,isrc,metadata",
            "a,https://example.com/a.mp3,,USRC1,",
            "b,,,,",  # no source
            f"c,,{tenant_space}c.flac,,",
            'd,https://example.com/d.mp3,,,"{""label"": ""X""}"',
            "e,ftp://example.com/e.mp3,,,",
            "f,https://example.com/f.mp3,tenants/other/f.mp3,,",
            "a,https://example.com/again.mp3,,,",  # repeats custom_id a
            "g,https://example.com/g.mp3,,,{not json",
            "h,http://127.0.0.1/h.mp3,,,",
            "i,too,many,fields,here,!",
            "",
        ]
    )
    batch = send_manifest(client, api_key, manifest, "week.csv").get_json()
    assert batch["item_count"] == 10
    listed = items(client, api_key, batch["id"])
    by_index = {i["index"]: i for i in listed}
    good = [i["custom_id"] for i in listed if i["status"] != "failed"]
    assert good == ["a", "c", "d"]
    assert by_index[0]["metadata"] == {"isrc": "USRC1"}
    assert by_index[3]["metadata"] == {"label": "X"}
    errors = {i["index"]: i["error"] for i in listed if i["status"] == "failed"}
    assert set(errors) == {1, 4, 5, 6, 7, 8, 9}
    assert {e["code"] for i, e in errors.items() if i != 6} == {"invalid_item"}
    assert errors[6]["code"] == "duplicate_custom_id" and "line 8" in errors[6]["detail"]
    assert "line 3" in errors[1]["detail"] and "line 11" in errors[9]["detail"]


def test_a_jsonl_manifest_with_bad_lines_fails_those_lines_only(migrated_settings, api_key):
    client = make_client(migrated_settings)
    lines = [
        json.dumps(url_items(1)[0]),
        "{not json",
        json.dumps({"source": {"url": "https://example.com/x.mp3"}}),
        json.dumps(["a", "list"]),
        json.dumps({"custom_id": "x" * 300, "source": {"url": "https://example.com/x"}}),
        json.dumps({"custom_id": "m", "source": {"url": "https://e.com/m"}, "metadata": 3}),
    ]
    data = ("\n".join(lines) + "\n").encode() + b"\xff\xfe not utf-8\n"
    batch = send_manifest(client, api_key, data, "manifest.jsonl").get_json()
    listed = items(client, api_key, batch["id"])
    assert [i["status"] for i in listed] == ["queued"] + ["failed"] * 6
    assert all(f"line {n}" in i["error"]["detail"] for n, i in enumerate(listed[1:], start=2))


def test_manifest_urls_are_refused_by_the_single_job_address_rule(migrated_settings, api_key):
    client = make_client(migrated_settings)
    inside = [
        "http://2130706433/a.mp3",
        "http://0x7f000001/a.mp3",
        "http://0177.0.0.1/a.mp3",
        "http://[::ffff:127.0.0.1]/a.mp3",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data",
        "http://224.0.0.1/a.mp3",
        "http://[fec0::1]/a.mp3",
    ]
    lines = [json.dumps({"custom_id": f"t{i}", "source": {"url": u}}) for i, u in enumerate(inside)]
    batch = send_manifest(client, api_key, "\n".join(lines), "inside.jsonl").get_json()
    listed = items(client, api_key, batch["id"])
    assert [i["status"] for i in listed] == ["failed"] * len(inside)
    assert all(i["error"]["code"] == "invalid_item" for i in listed)
    assert all("non-public" in i["error"]["detail"] for i in listed)
    assert queued_messages(migrated_settings) == 0


def test_a_manifest_over_the_item_limit_is_refused_whole(migrated_settings, api_key):
    client = make_client(migrated_settings, batch_max_items=5)
    manifest = "\n".join(json.dumps(item) for item in url_items(6))
    answer = send_manifest(client, api_key, manifest, "big.jsonl")
    assert answer.status_code == 413 and answer.get_json()["code"] == "too_many_items"
    assert client.get("/v1/batches", headers=auth(api_key)).get_json()["data"] == []
    assert queued_messages(migrated_settings) == 0


def test_an_open_batch_takes_uploads_and_records_refused_ones(
    migrated_settings, api_key, wav_bytes
):
    client = make_client(migrated_settings, max_upload_bytes=len(wav_bytes) + 10)
    batch = create(client, api_key, {}).get_json()
    assert batch["status"] == "open"
    first = add_upload(client, api_key, batch["id"], wav_bytes, "disc1/01.wav")
    assert first.status_code == 202 and first.get_json()["status"] == "queued"
    again = add_upload(client, api_key, batch["id"], wav_bytes, "disc1/01.wav")
    assert again.status_code == 200 and again.get_json()["index"] == 0
    other = add_upload(client, api_key, batch["id"], wav_bytes + b"x", "disc1/01.wav")
    assert other.status_code == 409 and other.get_json()["code"] == "duplicate_custom_id"
    text = add_upload(client, api_key, batch["id"], b"liner notes, not audio", "notes.txt")
    assert text.status_code == 202 and text.get_json()["error"]["code"] == "not_audio"
    big = add_upload(client, api_key, batch["id"], wav_bytes * 3, "big.wav", query=True)
    assert big.get_json()["status"] == "failed"
    assert big.get_json()["error"]["code"] == "file_too_large"
    closed = client.post(f"/v1/batches/{batch['id']}/close", headers=auth(api_key))
    assert closed.get_json()["status"] == "running" and closed.get_json()["item_count"] == 3
    late = add_upload(client, api_key, batch["id"], wav_bytes, "late.wav")
    assert late.status_code == 409 and late.get_json()["code"] == "conflict"


def test_a_batch_upload_with_two_file_parts_is_refused_and_nothing_is_recorded(
    migrated_settings, api_key, wav_bytes
):
    client = make_client(migrated_settings)
    batch = create(client, api_key, {}).get_json()
    two = [(io.BytesIO(wav_bytes), "a.wav"), (io.BytesIO(wav_bytes), "b.wav")]
    answer = client.post(
        f"/v1/batches/{batch['id']}/items",
        data={"file": two, "custom_id": "a.wav"},
        content_type="multipart/form-data",
        headers=auth(api_key),
    )
    assert answer.status_code == 400 and answer.get_json()["code"] == "too_many_files"
    assert items(client, api_key, batch["id"]) == []
    assert not list((migrated_settings.data_dir / "artifacts").rglob("*.wav"))


def test_a_manifest_with_a_second_file_part_is_refused(migrated_settings, api_key):
    client = make_client(migrated_settings)
    manifest = json.dumps(url_items(1)[0]).encode()
    answer = send_manifest(
        client, api_key, manifest, "a.jsonl", extra=(io.BytesIO(b"x"), "b.jsonl")
    )
    assert answer.status_code == 400 and answer.get_json()["code"] == "too_many_files"
    assert client.get("/v1/batches", headers=auth(api_key)).get_json()["data"] == []


def test_an_open_batch_whose_items_all_failed_completes_when_closed(migrated_settings, api_key):
    client = make_client(migrated_settings)
    batch = create(client, api_key, {}).get_json()
    add_upload(client, api_key, batch["id"], b"not audio", "a.txt")
    closed = client.post(f"/v1/batches/{batch['id']}/close", headers=auth(api_key)).get_json()
    assert closed["status"] == "completed" and closed["counts"]["failed"] == 1


def test_results_stream_every_item_in_submission_order(migrated_settings, api_key):
    settings = replace(migrated_settings, batch_max_in_flight=1)
    client = make_client(settings)
    body = {"items": [*url_items(2), {"custom_id": "bad", "source": {"ftp": "x"}}]}
    batch = create(client, api_key, body).get_json()
    report = {
        "verdict": "likely_authentic",
        "scores": {"overall": 0.1, "mixture": 0.1, "vocals": 0.9},
        "artist_matches": [
            {"artist_id": "a1", "name": "Near", "similarity": 0.7, "match": False},
            {"artist_id": "a2", "name": "Match", "similarity": 0.6, "match": True},
        ],
    }
    with session_scope(settings.database_url) as session:
        job = session.scalars(select(Job).where(Job.batch_id == uuid.UUID(batch["id"]))).one()
        jobstate.start_job(session, job.id, "ingest")
        jobstate.begin_stage(session, job.id, "ingest", 0.0)  # the job runs
        jobstate.succeed_job(session, job.id, report)
    rows = results(client, api_key, batch["id"])
    assert [r["custom_id"] for r in rows] == ["track-0", "track-1", "bad"]
    assert [r["status"] for r in rows] == ["succeeded", "pending", "failed"]
    assert rows[0]["verdict"] == "likely_authentic" and rows[0]["scores"]["vocals"] == 0.9
    assert rows[0]["top_artist_match"]["name"] == "Match"
    assert rows[1]["top_artist_match"] is None and rows[2]["error_code"] == "invalid_item"
    table = results(client, api_key, batch["id"], "csv")
    assert [r["custom_id"] for r in table] == ["track-0", "track-1", "bad"]
    assert table[0]["top_artist_name"] == "Match" and table[0]["score_overall"] == "0.1"
    assert table[2]["error_code"] == "invalid_item" and table[1]["verdict"] == ""


def test_cancel_stops_waiting_and_queued_items(migrated_settings, api_key):
    client = make_client(migrated_settings, batch_max_in_flight=2)
    batch = create(client, api_key, {"items": url_items(5)}).get_json()
    answer = client.post(f"/v1/batches/{batch['id']}/cancel", headers=auth(api_key))
    canceled = answer.get_json()
    assert canceled["status"] == "canceled" and canceled["counts"]["canceled"] == 5
    again = client.post(f"/v1/batches/{batch['id']}/cancel", headers=auth(api_key))
    assert again.status_code == 200
    closed = client.post(f"/v1/batches/{batch['id']}/close", headers=auth(api_key))
    assert closed.status_code == 409


def test_another_tenants_batch_is_not_found(migrated_settings, api_key, wav_bytes):
    client = make_client(migrated_settings)
    batch = create(client, api_key, {}).get_json()
    other = create_key(migrated_settings.database_url, "tenant-b")
    base = f"/v1/batches/{batch['id']}"
    for method, path in [
        ("get", base),
        ("get", base + "/items"),
        ("get", base + "/results"),
        ("post", base + "/cancel"),
        ("post", base + "/close"),
    ]:
        answer = getattr(client, method)(path, headers=auth(other))
        assert answer.status_code == 404 and answer.get_json()["code"] == "not_found", path
    upload = add_upload(client, other, batch["id"], wav_bytes, "x.wav")
    assert upload.status_code == 404
    assert client.get("/v1/batches", headers=auth(other)).get_json()["data"] == []


def test_items_may_only_name_objects_of_their_own_tenant(migrated_settings, api_key):
    client = make_client(migrated_settings)
    body = {"items": [{"custom_id": "x", "source": {"s3_key": f"tenants/{uuid.uuid4()}/a.mp3"}}]}
    listed = items(client, api_key, create(client, api_key, body).get_json()["id"])
    assert listed[0]["status"] == "failed" and "tenant" in listed[0]["error"]["detail"]
    prefix = {"source": {"s3_prefix": f"tenants/{uuid.uuid4()}/"}}
    assert create(client, api_key, prefix).status_code == 404


def test_an_s3_prefix_batch_has_one_item_per_object(migrated_settings, api_key, wav_bytes):
    from app.storage import make_storage

    client = make_client(migrated_settings)
    space = _tenant_space(migrated_settings, api_key)
    storage = make_storage(migrated_settings)
    for name in ("incoming/a.wav", "incoming/sub/b.wav", "elsewhere/c.wav"):
        storage.put_stream(space + name, io.BytesIO(wav_bytes), "audio/wav")
    batch = create(client, api_key, {"source": {"s3_prefix": space + "incoming/"}}).get_json()
    listed = items(client, api_key, batch["id"])
    assert [i["custom_id"] for i in listed] == ["a.wav", "sub/b.wav"]
    assert listed[0]["source"] == {"kind": "s3_key", "s3_key": space + "incoming/a.wav"}


def test_an_idempotency_key_returns_the_first_batch(migrated_settings, api_key):
    client = make_client(migrated_settings)
    headers = {"Idempotency-Key": "week-48"}
    first = create(client, api_key, {"items": url_items(2)}, headers=headers)
    again = create(client, api_key, {"items": url_items(2)}, headers=headers)
    assert again.get_json()["id"] == first.get_json()["id"]
    other = create(client, api_key, {"items": url_items(3)}, headers=headers)
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"items": {}},
        {"items": [], "source": {"s3_prefix": "x"}},
        {"source": {"url": "x"}},
        {"job_webhooks": True},
        {"metadata": "x"},
    ],
)
def test_malformed_batch_requests_are_400(migrated_settings, api_key, body):
    answer = create(make_client(migrated_settings), api_key, body)
    assert answer.status_code == 400 and answer.get_json()["code"] == "invalid_request"


def test_submissions_over_the_rate_limit_are_429_with_retry_after(
    migrated_settings, api_key, wav_bytes
):
    client = make_client(migrated_settings, rate_limit_submissions=2)
    assert create(client, api_key, {}).status_code == 202
    assert create(client, api_key, {}).status_code == 202
    answer = create(client, api_key, {})
    assert answer.status_code == 429 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "rate_limited"
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    jobs = client.post(
        "/v1/jobs",
        data={"file": (io.BytesIO(wav_bytes), "a.wav")},
        content_type="multipart/form-data",
        headers=auth(api_key),
    )
    assert jobs.status_code == 429
    assert client.get("/v1/batches", headers=auth(api_key)).status_code == 200
    other = create_key(migrated_settings.database_url, "tenant-b")
    assert create(client, other, {}).status_code == 202


def test_a_revoked_key_is_refused_at_once(migrated_settings, api_key):
    client = make_client(migrated_settings)
    assert client.get("/v1/batches", headers=auth(api_key)).status_code == 200
    assert revoke_key(migrated_settings.database_url, api_key[:10]) == api_key[:10]
    answer = client.get("/v1/batches", headers=auth(api_key))
    assert answer.status_code == 401 and answer.get_json()["code"] == "unauthorized"


def test_the_dispatcher_never_exceeds_the_tenant_cap_across_batches(migrated_settings, api_key):
    client = make_client(migrated_settings, batch_max_in_flight=4)
    first = create(client, api_key, {"items": url_items(3)}).get_json()
    second = create(client, api_key, {"items": url_items(3, 3)}).get_json()
    assert first["counts"]["queued"] == 3 and second["counts"]["queued"] == 1
    with session_scope(migrated_settings.database_url) as session:
        tenant = session.scalars(select(Job.tenant_id)).first()
        assert tenant is not None
        assert batchstate.dispatch(session, tenant, 4) == []
        assert batchstate.in_flight(session, tenant) == 4


def test_the_openapi_document_describes_batches(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/v1/batches", "/v1/batches/{batch_id}/results", "/v1/batches/{batch_id}/items"):
        assert path in spec["paths"]
    assert {"Batch", "BatchItem", "NewBatch"} <= set(spec["components"]["schemas"])


def _tenant_space(settings, key: str) -> str:
    from app.hashing import hash_key
    from app.tables import ApiKey

    with session_scope(settings.database_url) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).one()
        return f"tenants/{row.tenant_id}/"
