"""The artist gallery end to end on real servers: gunicorn, PostgreSQL (float4 arrays), Redis,
moto S3 and a Celery worker running the reference and analysis pipelines."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from app.db import session_scope
from app.services.tenants import create_key
from app.tables import Artist, ArtistReference
from tests.conftest import SPEECH, make_tone_file
from tests.integration.conftest import Stack, wait_until
from tests.integration.test_service import excerpt, poll, submit_file

pytestmark = pytest.mark.integration
ENROL_SECONDS = 9.0


@pytest.fixture(autouse=True)
def worker_running(stack: Stack) -> None:
    stack.ensure_worker()


def api(stack: Stack, key: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    return requests.request(method, stack.api_url + path, headers=headers, timeout=30, **kwargs)


def enrol(stack: Stack, key: str, artist_id: str, path: Path) -> dict[str, Any]:
    """Upload a reference and wait until its enrolment job has finished."""
    with path.open("rb") as fh:
        response = api(
            stack,
            key,
            "post",
            f"/v1/artists/{artist_id}/references",
            files={"file": (path.name, fh)},
        )
    assert response.status_code == 202, response.text
    location = response.headers["Location"]

    def finished() -> dict[str, Any] | None:
        reference = api(stack, key, "get", location).json()
        return reference if reference["status"] != "pending" else None

    return wait_until(finished, 180, f"reference {location} to be enrolled")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def gallery(stack: Stack, audio_dir: Path, tmp_path_factory) -> dict[str, Any]:
    """Tenant A's gallery: the three LibriSpeech readers, each enrolled from the start of its
    recording through the real reference pipeline."""
    key = create_key(stack.settings.database_url, f"label-{uuid.uuid4().hex[:6]}")
    tmp = tmp_path_factory.mktemp("gallery")
    artists = {}
    for reader in SPEECH:
        artist = api(stack, key, "post", "/v1/artists", json={"name": reader}).json()
        reference = enrol(
            stack, key, artist["id"], excerpt(audio_dir, tmp, reader, 0, ENROL_SECONDS)
        )
        assert reference["status"] == "ready", reference["error"]
        artists[reader] = {**artist, "reference": reference}
    return {"key": key, "artists": artists}


def analyse(stack: Stack, key: str, path: Path) -> dict[str, Any]:
    job = poll(stack, key, submit_file(stack, key, path)["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded", job["error"]
    return job["result"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("reader", SPEECH)
def test_an_enrolled_reader_is_identified_from_the_held_back_part(
    stack, gallery, audio_dir, tmp_path, reader
):
    report = analyse(stack, gallery["key"], excerpt(audio_dir, tmp_path, reader, ENROL_SECONDS, 30))
    top = report["artist_matches"][0]
    assert top["artist_id"] == gallery["artists"][reader]["id"] and top["name"] == reader
    assert top["match"] is True and top["answer"] == "match"
    assert [m["answer"] for m in report["artist_matches"][1:]] == ["no_match", "no_match"]
    assert report["identification"]["gallery_size"] == 3
    assert report["identification"]["answer"] == "match"
    assert f"the vocals resemble {reader} (similarity " in report["summary"]
    assert report["models"]["speaker_encoder"]["name"] == "resemblyzer-ge2e"


def test_a_voice_never_enrolled_has_no_match(stack, gallery, tmp_path):
    wav = tmp_path / "espeak.wav"
    text = "This synthetic voice was never enrolled, so no artist of the gallery may match it."
    subprocess.run(["espeak-ng", "-v", "en+m3", "-w", str(wav), text], check=True)
    report = analyse(stack, gallery["key"], wav)
    assert len(report["artist_matches"]) == 3
    assert not any(m["match"] for m in report["artist_matches"])
    assert report["identification"]["answer"] == "no_match"


def test_an_instrumental_gets_insufficient_vocals_not_a_verdict_on_any_artist(
    stack, gallery, audio_dir, tmp_path
):
    # A solo trumpet: the separator finds no voice to embed, so no artist is judged.
    report = analyse(stack, gallery["key"], audio_dir / "sorohanro_-_solo-trumpet-06.ogg")
    ident = report["identification"]
    assert ident["answer"] == "insufficient_vocals" and report["artist_matches"] == []
    assert ident["vocal_seconds"] < ident["min_vocal_seconds"] == 4.8
    assert ident["reason"].startswith("insufficient vocals")


def test_another_tenant_sees_none_of_the_gallery(stack, gallery, audio_dir, tmp_path):
    other = create_key(stack.settings.database_url, f"label-{uuid.uuid4().hex[:6]}")
    artist = gallery["artists"][SPEECH[0]]
    assert api(stack, other, "get", f"/v1/artists/{artist['id']}").status_code == 404
    assert api(stack, other, "delete", f"/v1/artists/{artist['id']}").status_code == 404
    reference_path = f"/v1/artists/{artist['id']}/references/{artist['reference']['id']}"
    assert api(stack, other, "delete", reference_path).status_code == 404
    assert api(stack, other, "get", "/v1/artists").json()["data"] == []
    report = analyse(stack, other, excerpt(audio_dir, tmp_path, SPEECH[0], ENROL_SECONDS, 30))
    assert report["artist_matches"] == []
    assert report["identification"]["reason"].startswith("the artist gallery is empty")


def test_the_gallery_is_listed_with_reference_counts(stack, gallery):
    listed = api(stack, gallery["key"], "get", "/v1/artists?limit=2").json()
    rest = api(stack, gallery["key"], "get", f"/v1/artists?cursor={listed['next_cursor']}").json()
    rows = listed["data"] + rest["data"]
    assert sorted(a["name"] for a in rows) == sorted(SPEECH)
    assert all(a["reference_count"] == 1 and a["enrolled"] for a in rows)


def test_deleting_a_reference_changes_the_voiceprint(stack, gallery, audio_dir, tmp_path):
    """A second reference moves the voiceprint; deleting it brings back the first alone."""
    key, reader = gallery["key"], SPEECH[1]
    artist = api(stack, key, "post", "/v1/artists", json={"name": f"{reader} twice"}).json()
    first = enrol(stack, key, artist["id"], excerpt(audio_dir, tmp_path, reader, 0, 6))
    alone = voiceprint(stack, artist["id"])
    second = enrol(stack, key, artist["id"], excerpt(audio_dir, tmp_path, reader, 8, 8))
    assert first["status"] == second["status"] == "ready"
    both = voiceprint(stack, artist["id"])
    assert both != pytest.approx(alone, abs=1e-3)
    path = f"/v1/artists/{artist['id']}/references/{second['id']}"
    assert api(stack, key, "delete", path).status_code == 204
    assert voiceprint(stack, artist["id"]) == pytest.approx(alone, abs=1e-5)
    assert api(stack, key, "get", path).status_code == 404
    assert api(stack, key, "get", f"/v1/jobs/{second['job_id']}").status_code == 404
    assert api(stack, key, "delete", f"/v1/artists/{artist['id']}").status_code == 204
    with session_scope(stack.settings.database_url) as session:
        refs = select(ArtistReference).where(ArtistReference.artist_id == uuid.UUID(artist["id"]))
        assert session.scalars(refs).all() == []


def voiceprint(stack: Stack, artist_id: str) -> list[float]:
    with session_scope(stack.settings.database_url) as session:
        artist = session.get(Artist, uuid.UUID(artist_id))
        assert artist is not None and artist.voiceprint is not None
        assert len(artist.voiceprint) == 256
        return list(artist.voiceprint)


def test_a_reference_without_vocals_fails_with_no_vocals(stack, tmp_path):
    key = create_key(stack.settings.database_url, f"label-{uuid.uuid4().hex[:6]}")
    artist = api(stack, key, "post", "/v1/artists", json={"name": "Test tone"}).json()
    reference = enrol(stack, key, artist["id"], make_tone_file(tmp_path / "tone.flac", 6.0))
    assert reference["status"] == "failed"
    assert reference["error"]["code"] == "no_vocals" and reference["error"]["stage"] == "enroll"
    shown = api(stack, key, "get", f"/v1/artists/{artist['id']}").json()
    assert shown["reference_count"] == 0 and shown["enrolled"] is False


def test_a_single_short_reference_is_warned_on_the_artist_and_in_its_enrolment_result(
    stack, gallery
):
    key, artist = gallery["key"], gallery["artists"][SPEECH[0]]
    quality = api(stack, key, "get", f"/v1/artists/{artist['id']}").json()["quality"]
    assert quality["status"] == "warning" and quality["references"] == 1
    assert quality["vocal_seconds"] == artist["reference"]["vocal_seconds"]
    assert {w["code"] for w in quality["warnings"]} >= {"single_reference", "too_little_vocals"}
    # The enrolment job computed the same assessment when it enrolled the reference.
    job = api(stack, key, "get", f"/v1/jobs/{artist['reference']['job_id']}").json()
    assert job["result"]["quality"] == quality


def test_references_of_two_different_voices_are_warned_as_disagreeing(stack, audio_dir, tmp_path):
    key = create_key(stack.settings.database_url, f"label-{uuid.uuid4().hex[:6]}")
    artist = api(stack, key, "post", "/v1/artists", json={"name": "Two readers"}).json()
    first = enrol(stack, key, artist["id"], excerpt(audio_dir, tmp_path, SPEECH[0], 0, 9))
    second = enrol(stack, key, artist["id"], excerpt(audio_dir, tmp_path, SPEECH[2], 0, 9))
    assert first["status"] == second["status"] == "ready"
    # The enrolment's own resource, polled until it was ready, already says so.
    warnings = {w["code"]: w for w in second["quality"]["warnings"]}
    disagree = warnings["references_disagree"]
    assert disagree["reference_ids"] == [first["id"], second["id"]]
    assert disagree["similarity"] < disagree["threshold"] == 0.8
    shown = api(stack, key, "get", f"/v1/artists/{artist['id']}").json()["quality"]
    assert shown["lowest_agreement"]["similarity"] == disagree["similarity"]
    assert "single_reference" not in {w["code"] for w in shown["warnings"]}


COULTON = "songs/Jonathan_Coulton_-_{}.mp3"


def test_a_singer_enrolled_from_two_songs_is_matched_on_a_third_and_no_one_else(
    stack, audio_dir, tmp_path
):
    # Issue #20's end-to-end case on real songs: 45 s of two of Jonathan Coulton's songs
    # enrol him; 45 s of a third is a match, a female singer of another band is no match,
    # and an instrumental is insufficient vocals. (Other male singers do match him: README
    # Artists, known limits; this test does not hide that, it pins what holds.)
    key = create_key(stack.settings.database_url, f"label-{uuid.uuid4().hex[:6]}")
    artist = api(stack, key, "post", "/v1/artists", json={"name": "Jonathan Coulton"}).json()
    for song in ("Better", "Flickr"):
        clip = excerpt(audio_dir, tmp_path, COULTON.format(song), 20, 45)
        assert enrol(stack, key, artist["id"], clip)["status"] == "ready"
    assert api(stack, key, "get", f"/v1/artists/{artist['id']}").json()["quality"]["status"] == "ok"

    third = analyse(
        stack, key, excerpt(audio_dir, tmp_path, COULTON.format("Chiron_Beta_Prime"), 20, 45)
    )
    assert third["identification"]["answer"] == "match"
    assert third["artist_matches"][0]["artist_id"] == artist["id"]
    assert third["artist_matches"][0]["answer"] == "match"
    assert "the vocals resemble Jonathan Coulton (similarity " in third["summary"]

    other = analyse(
        stack, key, excerpt(audio_dir, tmp_path, "Karissa_Hobbs_-_Lets_Go_Fishin.ogg", 20, 45)
    )
    assert other["identification"]["answer"] == "no_match"
    assert [m["answer"] for m in other["artist_matches"]] == ["no_match"]

    instrumental = excerpt(
        audio_dir, tmp_path, "songs/Shearer_-_Cant_stop_it_instrumental.mp3", 60, 45
    )
    silent = analyse(stack, key, instrumental)
    assert silent["identification"]["answer"] == "insufficient_vocals"
    assert silent["artist_matches"] == []
