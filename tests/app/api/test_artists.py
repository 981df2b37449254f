"""The artists API on the embedded default, and the gallery's voiceprints and version."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.services.tenants import create_key
from app.services.voiceprints import enroll_reference, gallery_version, mean_voiceprint
from app.tables import Artist, ArtistReference, Job
from tests.app.api.test_jobs import auth, queued_messages
from tests.conftest import make_tone_file


def create(client, key, name="Ada", **extra):
    return client.post("/v1/artists", json={"name": name, **extra}, headers=auth(key))


def add_reference(client, key, artist_id, data: bytes, name="ref.wav"):
    return client.post(
        f"/v1/artists/{artist_id}/references",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers=auth(key),
    )


@pytest.fixture()
def wav_bytes(tmp_path, ffmpeg) -> bytes:
    return make_tone_file(tmp_path / "tone.wav", seconds=1.0).read_bytes()


def test_an_artist_is_created_with_a_location_and_shown_with_its_references(client, api_key):
    response = create(client, api_key, "Ada Lovelace", external_id="isni-1")
    assert response.status_code == 201
    artist = response.get_json()
    assert response.headers["Location"] == f"/v1/artists/{artist['id']}"
    assert artist["name"] == "Ada Lovelace" and artist["external_id"] == "isni-1"
    shown = client.get(f"/v1/artists/{artist['id']}", headers=auth(api_key)).get_json()
    assert shown["references"] == [] and shown["reference_count"] == 0
    assert shown["enrolled"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 7},
        {"name": "x" * 201},
        {"name": "a", "external_id": 3},
    ],
)
def test_an_artist_needs_a_name(client, api_key, body):
    response = client.post("/v1/artists", json=body, headers=auth(api_key))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "invalid_request"


def test_a_second_artist_of_the_same_name_or_external_id_is_a_conflict(client, api_key):
    assert create(client, api_key, "Ada", external_id="e1").status_code == 201
    assert create(client, api_key, "Ada").get_json()["code"] == "conflict"
    assert create(client, api_key, "Other", external_id="e1").status_code == 409
    assert create(client, api_key, "Grace").status_code == 201


def test_the_listing_is_by_name_with_a_cursor_and_reference_counts(client, api_key, wav_bytes):
    for name in ("Carol", "alice", "Bob", "Dave", "Erin"):
        create(client, api_key, name)
    first = client.get("/v1/artists?limit=2", headers=auth(api_key)).get_json()
    rest = client.get(
        f"/v1/artists?limit=10&cursor={first['next_cursor']}", headers=auth(api_key)
    ).get_json()
    names = [a["name"] for a in first["data"] + rest["data"]]
    assert names == sorted(names) and len(names) == 5 and rest["next_cursor"] is None
    bob = next(a for a in first["data"] + rest["data"] if a["name"] == "Bob")
    add_reference(client, api_key, bob["id"], wav_bytes)
    listed = client.get("/v1/artists?limit=100", headers=auth(api_key)).get_json()["data"]
    counts = {a["name"]: (a["reference_count"], a["pending_references"]) for a in listed}
    assert counts["Bob"] == (0, 1) and counts["Carol"] == (0, 0)


def test_listing_rejects_a_bad_limit_or_cursor(client, api_key):
    assert client.get("/v1/artists?limit=0", headers=auth(api_key)).status_code == 400
    assert client.get("/v1/artists?limit=x", headers=auth(api_key)).status_code == 400
    assert client.get("/v1/artists?cursor=nope", headers=auth(api_key)).status_code == 400


def test_another_tenants_artist_and_references_are_not_found(
    client, api_key, migrated_settings, wav_bytes
):
    artist = create(client, api_key).get_json()
    reference = add_reference(client, api_key, artist["id"], wav_bytes).get_json()
    other = create_key(migrated_settings.database_url, "tenant-b")
    base = f"/v1/artists/{artist['id']}"
    for method, path in (
        ("get", base),
        ("delete", base),
        ("get", f"{base}/references/{reference['id']}"),
        ("delete", f"{base}/references/{reference['id']}"),
    ):
        response = getattr(client, method)(path, headers=auth(other))
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"
    assert add_reference(client, other, artist["id"], wav_bytes).status_code == 404
    assert client.get("/v1/artists", headers=auth(other)).get_json()["data"] == []
    assert client.get(base, headers=auth(api_key)).status_code == 200


def test_a_reference_upload_is_queued_as_a_reference_job(
    client, api_key, wav_bytes, migrated_settings
):
    artist = create(client, api_key).get_json()
    response = add_reference(client, api_key, artist["id"], wav_bytes)
    assert response.status_code == 202
    reference = response.get_json()
    assert response.headers["Location"] == (
        f"/v1/artists/{artist['id']}/references/{reference['id']}"
    )
    assert reference["status"] == "pending" and len(reference["sha256"]) == 64
    assert queued_messages(migrated_settings) == 1
    with session_scope(migrated_settings.database_url) as session:
        job = session.get(Job, uuid.UUID(reference["job_id"]))
        assert job is not None and job.pipeline == "reference"
    # A reference job is no analysis: it stays out of the job listing.
    assert client.get("/v1/jobs", headers=auth(api_key)).get_json()["data"] == []


def test_the_same_recording_twice_for_one_artist_is_a_conflict(client, api_key, wav_bytes):
    artist = create(client, api_key).get_json()
    assert add_reference(client, api_key, artist["id"], wav_bytes).status_code == 202
    again = add_reference(client, api_key, artist["id"], wav_bytes, name="copy.wav")
    assert again.status_code == 409 and again.get_json()["code"] == "duplicate_reference"
    other = create(client, api_key, "Grace").get_json()
    assert add_reference(client, api_key, other["id"], wav_bytes).status_code == 202


def test_a_reference_that_is_not_audio_is_refused_at_once(client, api_key, migrated_settings):
    artist = create(client, api_key).get_json()
    response = add_reference(client, api_key, artist["id"], b"just some text\n" * 40, "a.txt")
    assert response.status_code == 415 and response.get_json()["code"] == "not_audio"
    assert queued_messages(migrated_settings) == 0
    shown = client.get(f"/v1/artists/{artist['id']}", headers=auth(api_key)).get_json()
    assert shown["references"] == []


def test_a_reference_needs_a_file_or_a_source(client, api_key):
    artist = create(client, api_key).get_json()
    path = f"/v1/artists/{artist['id']}/references"
    assert client.post(path, json={"x": 1}, headers=auth(api_key)).status_code == 400
    assert client.post(path, data="nope", headers=auth(api_key)).status_code == 400
    private = {"source": {"url": "http://127.0.0.1/a.mp3"}}
    assert client.post(path, json=private, headers=auth(api_key)).status_code == 400


def test_a_reference_upload_with_two_file_parts_is_refused(client, api_key, wav_bytes):
    artist = create(client, api_key).get_json()
    two = [(io.BytesIO(wav_bytes), "a.wav"), (io.BytesIO(wav_bytes), "b.wav")]
    answer = client.post(
        f"/v1/artists/{artist['id']}/references",
        data={"file": two},
        content_type="multipart/form-data",
        headers=auth(api_key),
    )
    assert answer.status_code == 400 and answer.get_json()["code"] == "too_many_files"
    shown = client.get(f"/v1/artists/{artist['id']}", headers=auth(api_key)).get_json()
    assert shown["references"] == []


def test_reference_uploads_count_against_the_keys_rate_limit(migrated_settings, api_key, wav_bytes):
    from dataclasses import replace

    from app import create_app

    client = create_app(replace(migrated_settings, rate_limit_submissions=1)).test_client()
    artist = create(client, api_key).get_json()
    assert add_reference(client, api_key, artist["id"], wav_bytes).status_code == 202
    refused = add_reference(client, api_key, artist["id"], wav_bytes, name="again.wav")
    assert refused.status_code == 429 and refused.get_json()["code"] == "rate_limited"
    assert "Retry-After" in refused.headers


def test_a_reference_file_name_is_checked_as_a_jobs_is(client, api_key, wav_bytes):
    artist = create(client, api_key).get_json()
    response = add_reference(client, api_key, artist["id"], wav_bytes, name="a" * 300 + ".wav")
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_request"


def enrol(settings, reference_id: str, vector: list[float], sha256: str) -> None:
    with session_scope(settings.database_url) as session:
        enroll_reference(session, uuid.UUID(reference_id), vector, 10.0, sha256)


def test_deleting_a_reference_changes_the_voiceprint_and_the_gallery_version(
    client, api_key, migrated_settings, tmp_path, ffmpeg
):
    artist = create(client, api_key).get_json()
    tones = [make_tone_file(tmp_path / f"t{i}.wav", seconds=1.0 + i).read_bytes() for i in (0, 1)]
    refs = [add_reference(client, api_key, artist["id"], t).get_json() for t in tones]
    a, b = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    enrol(migrated_settings, refs[0]["id"], a, refs[0]["sha256"])
    enrol(migrated_settings, refs[1]["id"], b, refs[1]["sha256"])
    artist_id = uuid.UUID(artist["id"])
    with session_scope(migrated_settings.database_url) as session:
        both = session.get(Artist, artist_id)
        assert both is not None and both.voiceprint == pytest.approx(mean_voiceprint([a, b]))
        before = gallery_version(session, both.tenant_id)
    shown = client.get(f"/v1/artists/{artist['id']}", headers=auth(api_key)).get_json()
    assert [r["status"] for r in shown["references"]] == ["ready", "ready"]
    assert shown["reference_count"] == 2 and shown["enrolled"] is True
    path = f"/v1/artists/{artist['id']}/references/{refs[0]['id']}"
    assert client.delete(path, headers=auth(api_key)).status_code == 204
    assert client.get(path, headers=auth(api_key)).status_code == 404
    with session_scope(migrated_settings.database_url) as session:
        one = session.get(Artist, artist_id)
        assert one is not None and one.voiceprint == pytest.approx(b)
        assert gallery_version(session, one.tenant_id) > before
        assert session.get(Job, uuid.UUID(refs[0]["job_id"])) is None
    stored = list((migrated_settings.data_dir / "artifacts").rglob("source"))
    assert len(stored) == 1  # the deleted reference's upload is gone, the other stays


def test_deleting_an_artist_removes_its_references_jobs_and_audio(
    client, api_key, migrated_settings, wav_bytes
):
    artist = create(client, api_key).get_json()
    add_reference(client, api_key, artist["id"], wav_bytes)
    assert client.delete(f"/v1/artists/{artist['id']}", headers=auth(api_key)).status_code == 204
    assert client.get(f"/v1/artists/{artist['id']}", headers=auth(api_key)).status_code == 404
    with session_scope(migrated_settings.database_url) as session:
        assert session.scalars(select(ArtistReference)).all() == []
        assert session.scalars(select(Job)).all() == []
    assert list((migrated_settings.data_dir / "artifacts").rglob("source")) == []


def test_enrolling_the_same_content_twice_for_an_artist_is_a_duplicate(
    client, api_key, migrated_settings, tmp_path, ffmpeg
):
    from app.errors import DuplicateReferenceError

    artist = create(client, api_key).get_json()
    tones = [make_tone_file(tmp_path / f"t{i}.wav", seconds=1.0 + i).read_bytes() for i in (0, 1)]
    refs = [add_reference(client, api_key, artist["id"], t).get_json() for t in tones]
    enrol(migrated_settings, refs[0]["id"], [1.0, 0.0], "same")
    with pytest.raises(DuplicateReferenceError):
        enrol(migrated_settings, refs[1]["id"], [0.0, 1.0], "same")


def test_the_openapi_document_describes_the_artists_api(client):
    spec = client.get("/openapi.json").get_json()
    assert {"post", "get"} <= set(spec["paths"]["/v1/artists"])
    assert {"get", "delete"} <= set(spec["paths"]["/v1/artists/{artist_id}"])
    assert "post" in spec["paths"]["/v1/artists/{artist_id}/references"]
    assert "delete" in spec["paths"]["/v1/artists/{artist_id}/references/{reference_id}"]
    assert {"Artist", "ArtistReference"} <= set(spec["components"]["schemas"])
    quality = spec["components"]["schemas"]["EnrolmentQuality"]
    codes = quality["properties"]["warnings"]["items"]["properties"]["code"]["enum"]
    assert "references_disagree" in codes and "single_reference" in codes


def enrol_seconds(settings, reference_id: str, vector: list[float], sha256: str, seconds: float):
    with session_scope(settings.database_url) as session:
        enroll_reference(session, uuid.UUID(reference_id), vector, seconds, sha256)


def test_an_artist_shows_its_enrolment_quality_with_warnings_and_figures(
    client, api_key, migrated_settings, tmp_path, ffmpeg
):
    artist = create(client, api_key).get_json()
    base = f"/v1/artists/{artist['id']}"
    empty = client.get(base, headers=auth(api_key)).get_json()["quality"]
    assert [w["code"] for w in empty["warnings"]] == ["no_references"]
    tones = [make_tone_file(tmp_path / f"t{i}.wav", seconds=1.0 + i).read_bytes() for i in (0, 1)]
    refs = [add_reference(client, api_key, artist["id"], t).get_json() for t in tones]
    # Two voices 0.5 alike, 6 s and 20 s of vocals: too little in all, one short, disagreeing.
    enrol_seconds(migrated_settings, refs[0]["id"], [1.0, 0.0, 0.0], refs[0]["sha256"], 6.0)
    enrol_seconds(migrated_settings, refs[1]["id"], [0.5, 0.866, 0.0], refs[1]["sha256"], 20.0)
    quality = client.get(base, headers=auth(api_key)).get_json()["quality"]
    assert quality["status"] == "warning"
    assert quality["references"] == 2 and quality["vocal_seconds"] == 26.0
    warnings = {w["code"]: w for w in quality["warnings"]}
    assert set(warnings) == {
        "too_little_vocals",
        "reference_too_little_vocals",
        "references_disagree",
    }
    assert warnings["reference_too_little_vocals"]["reference_id"] == refs[0]["id"]
    assert warnings["references_disagree"]["similarity"] == pytest.approx(0.5, abs=1e-3)
    assert warnings["references_disagree"]["reference_ids"] == [refs[0]["id"], refs[1]["id"]]
    assert all(w["message"] for w in quality["warnings"])
    # The enrolment's own resource shows the same assessment.
    shown = client.get(f"{base}/references/{refs[0]['id']}", headers=auth(api_key)).get_json()
    assert shown["quality"] == quality


def test_deleting_the_disagreeing_reference_clears_the_agreement_warning(
    client, api_key, migrated_settings, tmp_path, ffmpeg
):
    artist = create(client, api_key).get_json()
    base = f"/v1/artists/{artist['id']}"
    tones = [make_tone_file(tmp_path / f"t{i}.wav", seconds=1.0 + i).read_bytes() for i in (0, 1)]
    refs = [add_reference(client, api_key, artist["id"], t).get_json() for t in tones]
    enrol_seconds(migrated_settings, refs[0]["id"], [1.0, 0.0], refs[0]["sha256"], 40.0)
    enrol_seconds(migrated_settings, refs[1]["id"], [0.0, 1.0], refs[1]["sha256"], 40.0)
    codes = [
        w["code"] for w in client.get(base, headers=auth(api_key)).get_json()["quality"]["warnings"]
    ]
    assert codes == ["references_disagree"]
    assert (
        client.delete(f"{base}/references/{refs[1]['id']}", headers=auth(api_key)).status_code
        == 204
    )
    quality = client.get(base, headers=auth(api_key)).get_json()["quality"]
    assert [w["code"] for w in quality["warnings"]] == ["single_reference"]
    assert quality["lowest_agreement"] is None


def test_the_enrolment_response_carries_the_artists_quality_so_far(client, api_key, wav_bytes):
    artist = create(client, api_key).get_json()
    response = add_reference(client, api_key, artist["id"], wav_bytes)
    assert response.status_code == 202
    quality = response.get_json()["quality"]
    # The new reference is pending: it counts once it is enrolled.
    assert quality["references"] == 0 and quality["warnings"][0]["code"] == "no_references"
